import { AsterismError } from "@asterism/errors";

/**
 * Codes raised while turning bytes into an SNP report (no judgement about trust).
 * - `REPORT_SIZE`: shorter than ATTESTATION_REPORT (0x4A0 bytes), or longer where the caller did not allow it.
 * - `UNSUPPORTED_VERSION`: a VERSION other than 2, 3 or 5.
 * - `RESERVED_NONZERO`: a reserved byte range or reserved bit was set (the field path names where).
 * - `INVALID_FIELD`: a field holds a value the spec rules out (e.g. guest policy bit 17 clear).
 */
export type SnpParseErrorCode = "REPORT_SIZE" | "UNSUPPORTED_VERSION" | "RESERVED_NONZERO" | "INVALID_FIELD";

/** Raised by `parseReport` and the other `abi` decoders. */
export class SnpParseError extends AsterismError<SnpParseErrorCode> {
  override readonly domain = "snp-parse";
}

/**
 * Codes raised while checking authenticity (signature, certificate chain, AMD certificate extensions).
 * - `SIGNER_UNSUPPORTED`: SIGNING_KEY says no key signed the report, or names a reserved key type.
 * - `UNSUPPORTED_SIGNATURE_ALGO`: SIGNATURE_ALGO is not 1 (ECDSA P-384 with SHA-384).
 * - `REPORT_SIGNATURE_INVALID`: the VCEK/VLEK did not sign these report bytes.
 * - `CERT_INVALID`: a certificate does not parse or does not have the AMD profile (key type, CN, extensions).
 * - `CHAIN_INVALID`: a link ARK → ASK/ASVK → VCEK/VLEK does not verify (names or signatures).
 * - `ARK_UNTRUSTED`: the chain's ARK is not one of our trusted AMD roots.
 * - `CERT_EXPIRED` / `CERT_NOT_YET_VALID`: a chain certificate is outside its validity at `now`.
 * - `CERT_REVOKED`: the ASK/ASVK is listed in AMD's CRL.
 * - `CRL_INVALID`: the CRL does not parse, is not signed by the ARK, or is out of date.
 * - `SIGNER_MISMATCH`: the certificate kind (VCEK/VLEK) is not the one the report names.
 * - `PRODUCT_MISMATCH`: the expected product, the report's CPUID and the certificate's productName disagree.
 * - `PRODUCT_UNKNOWN`: the product cannot be determined (version 2 report, no `product` option, no hint).
 * - `HWID_MISMATCH`: the VCEK's hwID is not the report's CHIP_ID.
 * - `TCB_MISMATCH`: the certificate's TCB is not the report's REPORTED_TCB.
 */
export type SnpVerifyErrorCode =
  | "SIGNER_UNSUPPORTED"
  | "UNSUPPORTED_SIGNATURE_ALGO"
  | "REPORT_SIGNATURE_INVALID"
  | "CERT_INVALID"
  | "CHAIN_INVALID"
  | "ARK_UNTRUSTED"
  | "CERT_EXPIRED"
  | "CERT_NOT_YET_VALID"
  | "CERT_REVOKED"
  | "CRL_INVALID"
  | "SIGNER_MISMATCH"
  | "PRODUCT_MISMATCH"
  | "PRODUCT_UNKNOWN"
  | "HWID_MISMATCH"
  | "TCB_MISMATCH";

/** Raised by the `verify` stage: the report or its certificates are not authentic. */
export class SnpVerifyError extends AsterismError<SnpVerifyErrorCode> {
  override readonly domain = "snp-verify";
}

/**
 * Codes of policy failures (the report is authentic but not acceptable).
 * - `POLICY_INVALID`: the policy document itself is malformed (raised by `parseSnpPolicy`).
 * - `DEBUG_ALLOWED`, `SMT_ALLOWED`, `MIGRATION_AGENT_ALLOWED`: the guest policy permits what ours forbids.
 * - `ABI_TOO_OLD`: the guest policy's minimum ABI, or the firmware version/build, is below the policy.
 * - `VMPL_MISMATCH`: the report was requested from another VMPL.
 * - `TCB_TOO_LOW`: CURRENT/REPORTED/COMMITTED TCB below the policy minimum (per component).
 * - `LAUNCH_TCB_TOO_LOW`: LAUNCH_TCB below the policy minimum.
 * - `CURRENT_BELOW_COMMITTED`: CURRENT_TCB below COMMITTED_TCB (a rollback).
 * - `PROVISIONAL_FIRMWARE`: CURRENT_TCB ahead of COMMITTED_TCB while provisional firmware is not permitted.
 * - `CURRENT_BELOW_CERT_TCB`: CURRENT_TCB below the TCB the VCEK/VLEK certifies.
 * - `MEASUREMENT_MISMATCH`, `REPORT_DATA_MISMATCH`, `HOST_DATA_MISMATCH`, `FAMILY_ID_MISMATCH`,
 *   `IMAGE_ID_MISMATCH`, `REPORT_ID_MISMATCH`, `REPORT_ID_MA_MISMATCH`, `CHIP_ID_MISMATCH`: field differs.
 * - `ID_KEY_UNTRUSTED`: ID_KEY_DIGEST is not in the accepted list (enforcement `equal`).
 * - `ID_BLOCK_MISSING`, `AUTHOR_KEY_MISSING`: the guest was launched without the required ID block/author key.
 * - `GUEST_SVN_TOO_LOW`: GUEST_SVN below the policy minimum.
 * - `PLATFORM_INFO_REJECTED`: PLATFORM_INFO has a bit the policy does not allow, or lacks a required one.
 * - `PRODUCT_MISMATCH`: the report comes from another product line.
 * - `SIGNER_MISMATCH`: signed by a VCEK where a VLEK is required, or the reverse.
 */
export type SnpPolicyErrorCode =
  | "POLICY_INVALID"
  | "DEBUG_ALLOWED"
  | "SMT_ALLOWED"
  | "MIGRATION_AGENT_ALLOWED"
  | "ABI_TOO_OLD"
  | "VMPL_MISMATCH"
  | "TCB_TOO_LOW"
  | "LAUNCH_TCB_TOO_LOW"
  | "CURRENT_BELOW_COMMITTED"
  | "PROVISIONAL_FIRMWARE"
  | "CURRENT_BELOW_CERT_TCB"
  | "MEASUREMENT_MISMATCH"
  | "REPORT_DATA_MISMATCH"
  | "HOST_DATA_MISMATCH"
  | "FAMILY_ID_MISMATCH"
  | "IMAGE_ID_MISMATCH"
  | "REPORT_ID_MISMATCH"
  | "REPORT_ID_MA_MISMATCH"
  | "CHIP_ID_MISMATCH"
  | "ID_KEY_UNTRUSTED"
  | "ID_BLOCK_MISSING"
  | "AUTHOR_KEY_MISSING"
  | "GUEST_SVN_TOO_LOW"
  | "PLATFORM_INFO_REJECTED"
  | "PRODUCT_MISMATCH"
  | "SIGNER_MISMATCH";

/** A policy failure: the report is authentic, but our policy does not accept it. */
export class SnpPolicyError extends AsterismError<SnpPolicyErrorCode> {
  override readonly domain = "snp-policy";
}

/**
 * Codes of the AMD KDS client.
 * - `FETCH_FAILED`: the request did not complete (network error, timeout).
 * - `HTTP_STATUS`: KDS answered with a status other than 200.
 * - `RESPONSE_TOO_LARGE`: the body exceeded the limit for its kind.
 * - `INVALID_RESPONSE`: the body is not the certificate(s)/CRL asked for.
 * - `NOT_IN_BUNDLE`: offline mode and the offline bundle has no such entry.
 * - `BUNDLE_INVALID`: the offline bundle document is malformed.
 */
export type KdsErrorCode =
  | "FETCH_FAILED"
  | "HTTP_STATUS"
  | "RESPONSE_TOO_LARGE"
  | "INVALID_RESPONSE"
  | "NOT_IN_BUNDLE"
  | "BUNDLE_INVALID";

/** Raised by the KDS client. */
export class KdsError extends AsterismError<KdsErrorCode> {
  override readonly domain = "snp-kds";
}
