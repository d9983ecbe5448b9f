import { AsterismError } from "@asterism/errors";

/**
 * Codes of the X.509 helpers.
 * - `PEM_INVALID`: not a well-formed PEM text (bad armour, label, base64, or text outside blocks).
 * - `DER_INVALID`: not canonical DER (indefinite or non-minimal length, truncation, trailing data, depth).
 * - `CERT_INVALID`: DER that is not a certificate as RFC 5280 §4.1 describes it.
 * - `CRL_INVALID`: DER that is not a CRL as RFC 5280 §5.1 describes it.
 * - `UNSUPPORTED_ALGORITHM`: a signature or key algorithm (or parameter set) this module does not accept.
 * - `ISSUER_MISMATCH`: the certificate's issuer name is not the issuer's subject name.
 * - `SIGNATURE_INVALID`: the issuer's key did not sign these bytes.
 * - `NOT_YET_VALID` / `EXPIRED`: `now` lies outside notBefore..notAfter (or thisUpdate..nextUpdate).
 * - `REVOKED`: the certificate's serial number is listed in the issuer's CRL.
 */
export type PkiErrorCode =
  | "PEM_INVALID"
  | "DER_INVALID"
  | "CERT_INVALID"
  | "CRL_INVALID"
  | "UNSUPPORTED_ALGORITHM"
  | "ISSUER_MISMATCH"
  | "SIGNATURE_INVALID"
  | "NOT_YET_VALID"
  | "EXPIRED"
  | "REVOKED";

/** Raised by every function of `@asterism/pki`. */
export class PkiError extends AsterismError<PkiErrorCode> {
  override readonly domain = "pki";
}
