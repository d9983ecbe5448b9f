/**
 * Intel TDX quote verification, kept in three stages (house style §2):
 * - parse: `parseQuote` (quote v4/v5 field tables down to the PCK chain), `parseCollateral`,
 *   `parseTdxPolicy` — {@link TdxParseError};
 * - verify: `verifyQuote` (quote and QE report signatures, QE binding, PCK chain to the Intel SGX Root CA,
 *   and with collateral: CRLs, TCB info, QE identity, TCB level and QE TCB status) and
 *   `verifyCollateral` (once, cacheable) — {@link TdxVerifyError};
 * - validate: `validateQuote` against a {@link TdxPolicy} — {@link TdxPolicyError}.
 * Plus the `qemu-tdx` / `azure-tdx` validators, an Intel PCS client, and `verifyTdxEvidence` (the logic of
 * `asterism attestation verify-tdx`).
 *
 * @example
 * import { parseCollateral, validateQuote, verifyQuote } from "@asterism/tdx";
 * const v = await verifyQuote(quoteBytes, { now: new Date(), collateral: parseCollateral(json) });
 * validateQuote(v.quote, { mrTd: "…", rtmr2: "…" });
 *
 * @module
 */

export {
  type Collateral,
  CollateralSchema,
  parseCollateral,
  type QeIdentity,
  TCB_STATUSES,
  type TcbStatus,
  type TdxTcbInfo,
} from "./collateral.ts";
export {
  type PcsCode,
  PcsError,
  type TdxParseCode,
  TdxParseError,
  type TdxPolicyCode,
  TdxPolicyError,
  type TdxVerifyCode,
  TdxVerifyError,
} from "./errors.ts";
export { type TdxEvidenceInput, type TdxEvidenceResult, verifyTdxEvidence } from "./evidence.ts";
export { type CertCache, createCertCache, INTEL_SGX_ROOT_CA_PEM, loadTrustedRoot } from "./pck-chain.ts";
export { type PckExtensions, parsePckExtensions } from "./pck-extensions.ts";
export {
  bundleKey,
  type CollateralBundle,
  CollateralBundleSchema,
  createPcsClient,
  DEFAULT_PCS_BASE_URL,
  type FetchLike,
  type PcsClient,
  type PcsClientOptions,
} from "./pcs-client.ts";
export {
  clusterIdRtmr2,
  INTEL_QE_VENDOR_ID,
  parseTdxPolicy,
  type TdxPolicy,
  TdxPolicySchema,
  validateQuote,
} from "./policy.ts";
export { MAX_TRAILING_BYTES, parseQuote, type TdxQuote } from "./quote.ts";
export {
  ECDSA_SIG_DATA,
  QE_REPORT_CERTIFICATION_DATA,
  SGX_REPORT_BODY,
  type SgxReportBody,
  TD_QUOTE_HEADER_V4,
  TD_QUOTE_HEADER_V5,
  TD_QUOTE_V4,
  TD_QUOTE_V5,
  TD_REPORT_BODY_10,
  TD_REPORT_BODY_15,
  type TdQuoteHeader,
  type TdReportBody,
} from "./structures.ts";
export {
  DEFAULT_ACCEPTED_TCB_STATUSES,
  evaluateQeIdentity,
  evaluateTcb,
  type QeTcbEvaluation,
  type TcbEvaluation,
} from "./tcb.ts";
export {
  type AzureTdxValidatorOptions,
  createAzureTdxValidator,
  type RsaPublic,
  type VtpmVerification,
  verifyAzureTdxInstanceInfo,
} from "./variants/azure-tdx.ts";
export { type TdxMeasurements, TdxMeasurementsSchema, type TdxValidatorDeps } from "./variants/common.ts";
export { createQemuTdxValidator, type QemuTdxValidatorOptions } from "./variants/qemu-tdx.ts";
export {
  type CollateralRequest,
  type VerifiedQuote,
  type VerifyQuoteOptions,
  verifyQuote,
} from "./verify.ts";
export {
  type CollateralOptions,
  createVerifiedCollateralSource,
  type VerifiedCollateral,
  type VerifiedCollateralSourceOptions,
  verifyCollateral,
  verifyTcbInfo,
} from "./verify-collateral.ts";
