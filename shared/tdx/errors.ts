import { AsterismError } from "@asterism/errors";

/**
 * Codes raised while turning bytes or JSON into typed TDX values (no judgement of authenticity).
 * - `UNSUPPORTED_VERSION`: quote version other than 4 or 5.
 * - `UNSUPPORTED_FORMAT`: a fixed field (attestation key type, TEE type, body type, certification data
 *   type) has a value this verifier does not implement.
 * - `TRUNCATED`: input ends inside a structure.
 * - `RESERVED_NONZERO`: a reserved range is not zero.
 * - `SIZE_LIMIT`: a length field or the input exceeds its bound.
 * - `MALFORMED`: any other structural inconsistency (sizes that do not add up, bad PEM, bad DER).
 * - `TRAILING_BYTES`: more unsigned bytes after the quote than {@link MAX_TRAILING_BYTES} allows.
 * - `COLLATERAL_MALFORMED`: the collateral JSON, TCB info or QE identity does not match its schema.
 * - `DOCUMENT_MALFORMED`: a variant's attestation document (JSON envelope) does not match its schema.
 */
export type TdxParseCode =
  | "UNSUPPORTED_VERSION"
  | "UNSUPPORTED_FORMAT"
  | "TRUNCATED"
  | "RESERVED_NONZERO"
  | "SIZE_LIMIT"
  | "MALFORMED"
  | "TRAILING_BYTES"
  | "COLLATERAL_MALFORMED"
  | "DOCUMENT_MALFORMED";

/** A TDX quote, PCK certificate or collateral document could not be parsed. */
export class TdxParseError extends AsterismError<TdxParseCode> {
  override readonly domain = "tdx.parse";
}

/**
 * Codes raised while checking authenticity (signatures, chains, revocation, collateral freshness and the
 * platform TCB as Intel rates it).
 * - `QUOTE_SIGNATURE_INVALID`: header+body not signed by the attestation key.
 * - `QE_REPORT_SIGNATURE_INVALID`: QE report not signed by the PCK leaf key.
 * - `QE_REPORT_DATA_MISMATCH`: QE report data does not bind SHA-256(attestation key ‖ QE auth data).
 * - `PCK_CHAIN_INVALID`: the PCK chain is not PCK leaf → PCK CA → trusted root (names, signatures, CA flags).
 * - `ROOT_UNTRUSTED`: the chain's root is not the trusted Intel SGX Root CA.
 * - `CERT_EXPIRED`: a chain certificate is outside its validity at `now`.
 * - `CERT_REVOKED`: a chain certificate is listed on the PCK or root CRL.
 * - `PCK_EXTENSION_INVALID`: the PCK certificate's SGX extensions are missing or malformed.
 * - `COLLATERAL_SIGNATURE_INVALID`: TCB info, QE identity or a CRL is not signed by its issuer chain.
 * - `COLLATERAL_CHAIN_INVALID`: a collateral issuer chain does not lead to the trusted root.
 * - `COLLATERAL_SIGNER_EXPIRED`: the collateral signing certificate is outside its validity at `now`
 *   (policy-controlled: see `allowExpiredCollateralSigner`).
 * - `COLLATERAL_EXPIRED`: TCB info, QE identity or a CRL is not yet valid or past nextUpdate at `now`.
 * - `COLLATERAL_MISMATCH`: collateral for another platform (FMSPC, PCE ID, TEE id, QE id).
 * - `TCB_LEVEL_NOT_FOUND`: no TCB level of the TCB info is met by the platform (TCB too low).
 * - `TCB_STATUS_UNACCEPTABLE`: the matched TCB status is not in the accepted set.
 * - `TDX_MODULE_MISMATCH`: MRSIGNERSEAM / SEAM attributes do not match the TCB info's TDX module.
 * - `QE_IDENTITY_MISMATCH`: the QE report does not match the QE identity (MRSIGNER, ISVPRODID, masks).
 * - `QE_TCB_LEVEL_NOT_FOUND`: no QE identity TCB level is met by the QE's ISVSVN.
 * - `QE_TCB_STATUS_UNACCEPTABLE`: the QE's TCB status is not in the accepted set.
 */
export type TdxVerifyCode =
  | "QUOTE_SIGNATURE_INVALID"
  | "QE_REPORT_SIGNATURE_INVALID"
  | "QE_REPORT_DATA_MISMATCH"
  | "PCK_CHAIN_INVALID"
  | "ROOT_UNTRUSTED"
  | "CERT_EXPIRED"
  | "CERT_REVOKED"
  | "PCK_EXTENSION_INVALID"
  | "COLLATERAL_SIGNATURE_INVALID"
  | "COLLATERAL_CHAIN_INVALID"
  | "COLLATERAL_SIGNER_EXPIRED"
  | "COLLATERAL_EXPIRED"
  | "COLLATERAL_MISMATCH"
  | "TCB_LEVEL_NOT_FOUND"
  | "TCB_STATUS_UNACCEPTABLE"
  | "TDX_MODULE_MISMATCH"
  | "QE_IDENTITY_MISMATCH"
  | "QE_TCB_LEVEL_NOT_FOUND"
  | "QE_TCB_STATUS_UNACCEPTABLE";

/** The quote or its collateral is not authentic, not current, or rated unacceptable by Intel. */
export class TdxVerifyError extends AsterismError<TdxVerifyCode> {
  override readonly domain = "tdx.verify";
}

/**
 * Codes raised by the owner's policy on an authentic quote.
 * - `POLICY_INVALID`: the policy document does not match its schema.
 * - `MEASUREMENT_MISMATCH`: MRTD, an RTMR, MRSEAM or an mr_config_id/owner/owner_config differs.
 * - `DEBUG_FORBIDDEN`: TD_ATTRIBUTES.DEBUG is set.
 * - `ATTRIBUTES_MISMATCH`: TD attributes or XFAM differ from the policy.
 * - `SVN_TOO_LOW`: TEE TCB SVN, QE SVN or PCE SVN below the minimum.
 * - `QE_VENDOR_MISMATCH`: QE vendor ID differs.
 * - `REPORT_DATA_MISMATCH`: report data differs from the expected 64 bytes.
 */
export type TdxPolicyCode =
  | "POLICY_INVALID"
  | "MEASUREMENT_MISMATCH"
  | "DEBUG_FORBIDDEN"
  | "ATTRIBUTES_MISMATCH"
  | "SVN_TOO_LOW"
  | "QE_VENDOR_MISMATCH"
  | "REPORT_DATA_MISMATCH";

/** An authentic quote does not satisfy the owner's policy. */
export class TdxPolicyError extends AsterismError<TdxPolicyCode> {
  override readonly domain = "tdx.policy";
}

/**
 * Codes of the Intel PCS client.
 * - `FETCH_FAILED`: network error or non-200 answer.
 * - `RESPONSE_INVALID`: a header or body is missing or malformed.
 * - `NOT_IN_BUNDLE`: offline mode and the bundle has no collateral for this FMSPC.
 */
export type PcsCode = "FETCH_FAILED" | "RESPONSE_INVALID" | "NOT_IN_BUNDLE";

/** Collateral could not be obtained from Intel PCS (or the offline bundle). */
export class PcsError extends AsterismError<PcsCode> {
  override readonly domain = "tdx.pcs";
}
