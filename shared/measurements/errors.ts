import { AsterismError } from "@asterism/errors";

/** Why a measurements file could not be read (parse stage: no judgement about the values). */
export type MeasurementsParseErrorCode =
  /** Input larger than {@link MAX_MEASUREMENTS_FILE_BYTES}. */
  | "TOO_LARGE"
  /** Not well-formed JSON / YAML, or not UTF-8. */
  | "INVALID_SYNTAX"
  /** Well-formed, but not the expected shape (wrong types, unknown keys). */
  | "INVALID_SCHEMA"
  /** A map key that is not a canonical decimal uint32. */
  | "INVALID_INDEX"
  /** The same index twice (after normalisation). */
  | "DUPLICATE_INDEX"
  /** `expected` is not hex (base64 in particular is rejected, as Constellation does). */
  | "INVALID_ENCODING"
  /** `expected` is neither 32 nor 48 bytes. */
  | "INVALID_LENGTH"
  /** 32- and 48-byte values in one map. */
  | "MIXED_LENGTHS";

/** Thrown when measurement policy bytes cannot be parsed. */
export class MeasurementsParseError extends AsterismError<MeasurementsParseErrorCode> {
  override readonly domain = "measurements";
}

/** Why a signed measurements file is not authentic (verify stage). */
export type MeasurementsSignatureErrorCode =
  /** The public key is not a PEM SPKI ECDSA P-256 key. */
  | "PUBLIC_KEY_INVALID"
  /** The `.sig` is not base64. */
  | "SIGNATURE_ENCODING"
  /** The signature does not verify over the exact file bytes. */
  | "SIGNATURE_INVALID";

/** Thrown when a signed measurements file fails its signature check. */
export class MeasurementsSignatureError extends AsterismError<MeasurementsSignatureErrorCode> {
  override readonly domain = "measurements";
}

/** Why measurements are not acceptable (validate stage). */
export type MeasurementsPolicyErrorCode =
  /** At least one enforced index differs or is missing; `verdict` lists every one. */
  | "MEASUREMENT_MISMATCH"
  /** The published file is for another image version, ref or stream. */
  | "IMAGE_MISMATCH"
  /** No entry in the published file for the requested CSP and variant (or more than one). */
  | "NO_MATCHING_ENTRY"
  /** Merging two maps whose value lengths differ (SHA-256 PCRs vs 48-byte TDX registers). */
  | "LENGTH_CONFLICT"
  /** A helper was asked for an unsupported measurement size. */
  | "UNSUPPORTED_SIZE";

/** Thrown when measurements do not satisfy the policy. */
export class MeasurementsPolicyError extends AsterismError<MeasurementsPolicyErrorCode> {
  override readonly domain = "measurements";
}
