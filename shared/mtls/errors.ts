import { AsterismError } from "@asterism/errors";

/**
 * Codes raised by the cluster CA and service identities.
 * - `INVALID_IDENTITY`: a service name or identity URI does not match `asterism://<name>`.
 * - `INVALID_CERTIFICATE`: PEM/DER that does not parse as the expected certificate or key.
 * - `INVALID_VALIDITY`: a requested validity period is empty or too long.
 */
export type MtlsErrorCode = "INVALID_IDENTITY" | "INVALID_CERTIFICATE" | "INVALID_VALIDITY";

/** A failure while creating or loading CA material or service certificates. */
export class MtlsError extends AsterismError<MtlsErrorCode> {
  override readonly domain = "mtls";
}
