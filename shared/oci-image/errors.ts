import { AsterismError } from "@asterism/errors";

/**
 * Codes raised while assembling OCI images.
 * - `INVALID_ENTRY`: a file-system entry that a reproducible layer cannot hold (bad path, duplicate, bad mode).
 * - `PATH_TOO_LONG`: a path that does not fit a ustar header (100-byte name + 155-byte prefix).
 * - `DEBIAN_FILE`: a file that should come from an installed Debian package is missing, not owned by that
 *   package, or does not match the package's recorded checksum.
 */
export type OciErrorCode = "INVALID_ENTRY" | "PATH_TOO_LONG" | "DEBIAN_FILE";

/** Error of the `oci` domain. */
export class OciError extends AsterismError<OciErrorCode> {
  override readonly domain = "oci";
}
