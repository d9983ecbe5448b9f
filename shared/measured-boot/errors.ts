import { AsterismError } from "@asterism/errors";

/** Codes of {@link MeasuredBootError}. */
export type MeasuredBootErrorCode =
  /** The file is not a PE/COFF image this module can hash (bad magic, truncated, overlapping ranges). */
  | "MALFORMED_PE"
  /** The PE image is not a unified kernel image (a required section is missing or duplicated). */
  | "NOT_A_UKI"
  /** The disk image has no GPT, no EFI system partition, or no UKI at the removable-media boot path. */
  | "MALFORMED_DISK_IMAGE";

/** A UKI or disk image that cannot be measured. */
export class MeasuredBootError extends AsterismError<MeasuredBootErrorCode> {
  override readonly domain = "measured-boot";
}
