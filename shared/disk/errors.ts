import { AsterismError } from "@asterism/errors";

/**
 * - `NOT_LUKS`: the device has no LUKS2 header.
 * - `WRONG_KEY`: no key slot opens with the key given.
 * - `CRYPTSETUP_FAILED`: cryptsetup failed for another reason (its stderr, which holds no key, is kept).
 * - `MAPPING_UNAVAILABLE`: opening a mapping needs device-mapper, which this host does not have.
 * - `INVALID_KEY`: a key of the wrong length or an empty key was handed in.
 */
export type DiskErrorCode =
  | "NOT_LUKS"
  | "WRONG_KEY"
  | "CRYPTSETUP_FAILED"
  | "MAPPING_UNAVAILABLE"
  | "INVALID_KEY";

export class DiskError extends AsterismError<DiskErrorCode> {
  override readonly domain = "disk";
}
