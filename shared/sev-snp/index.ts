/**
 * AMD SEV-SNP attestation, split the go-sev-guest way:
 * - **abi**: the ATTESTATION_REPORT as declarative fixed-offset tables (versions 2, 3, 5), TCB_VERSION
 *   layouts (Milan/Genoa vs Turin), guest policy and signer info — bytes ↔ values, no judgement;
 * - **verify**: the report's ECDSA P-384 signature, the chain ARK → ASK/ASVK → VCEK/VLEK (RSASSA-PSS), AMD
 *   certificate extensions, hwID = CHIP_ID, certificate TCB = REPORTED_TCB, validity at an injected time;
 *   the ARK is always ours, never the attested side's;
 * - **validate**: the policy (valibot schema) — debug, SMT, migration agent, VMPL, TCB minimums, provisional
 *   firmware, launch measurement, ID keys, REPORT_DATA binding, guest SVN, …; every failure coded;
 * - **kds**: AMD KDS client with caching, request coalescing and an offline bundle.
 *
 * @example
 * import { createSnpVerifier, parseSnpPolicy, validateSnpReport } from "@asterism/sev-snp";
 * const verified = await createSnpVerifier().verify({ report, endorsementKey: vcek }, { now: new Date() });
 * const result = validateSnpReport(verified, parseSnpPolicy({ measurement: expectedHex, reportData: bindingHex }));
 * if (!result.valid) throw result.failures[0];
 *
 * @module
 */
export {
  decodePlatformInfo,
  GUEST_POLICY,
  type GuestPolicy,
  SIGNER_INFO,
  SIGNING_KEY,
  type SignerInfo,
} from "./abi/policy.ts";
export {
  PRODUCTS,
  type Product,
  productFromCpuid,
  productFromName,
  productKdsName,
} from "./abi/product.ts";
export {
  ATTESTATION_REPORT_V2,
  ATTESTATION_REPORT_V3,
  ATTESTATION_REPORT_V5,
  type AttestationReport,
  type AttestationReportFields,
  type AttestationReportV2,
  type AttestationReportV3,
  type AttestationReportV5,
  type ParseReportOptions,
  parseReport,
  REPORT_SIZE,
  REPORT_VERSIONS,
  type ReportVersion,
  SIGNED_SIZE,
  serializeReport,
} from "./abi/report.ts";
export {
  decodeTcb,
  encodeTcb,
  formatTcb,
  TCB_COMPONENTS,
  type TcbParts,
  tcbBelow,
  tcbEqual,
} from "./abi/tcb.ts";
export { type SnpClaims, snpClaims } from "./claims.ts";
export {
  KdsError,
  type KdsErrorCode,
  SnpParseError,
  type SnpParseErrorCode,
  SnpPolicyError,
  type SnpPolicyErrorCode,
  SnpVerifyError,
  type SnpVerifyErrorCode,
} from "./errors.ts";
export { createKdsBundle, KDS_BUNDLE_FORMAT, type KdsBundle, parseKdsBundle } from "./kds/bundle.ts";
export {
  createKdsClient,
  type KdsClient,
  type KdsClientOptions,
  type KdsFetch,
  MAX_KDS_RESPONSE_BYTES,
} from "./kds/client.ts";
export { collectSnpEvidence, type SuppliedCertificates } from "./kds/collect.ts";
export { certChainPath, crlPath, KDS_BASE_URL, type KdsKeyKind, vcekPath } from "./kds/urls.ts";
export {
  parseSnpPolicy,
  type SnpPolicy,
  type SnpPolicyInput,
  SnpPolicySchema,
} from "./validate/policy.ts";
export {
  type SnpValidationInput,
  type SnpValidationResult,
  validateSnpReport,
} from "./validate/validate.ts";
export {
  AMD_OID,
  type AmdEndorsementKey,
  parseAmdEndorsementKey,
  parseAmdExtensions,
} from "./verify/amd-cert.ts";
export {
  ARK_GENOA_PEM,
  ARK_MILAN_PEM,
  ARK_TURIN_PEM,
  ASK_GENOA_PEM,
  ASK_MILAN_PEM,
  ASK_TURIN_PEM,
  ASVK_GENOA_PEM,
  ASVK_MILAN_PEM,
  ASVK_TURIN_PEM,
} from "./verify/amd-roots.ts";
export {
  type AmdRoots,
  type AmdTrustRoots,
  builtInAmdRoots,
  classifyChain,
  parseAmdChain,
  type SuppliedChain,
} from "./verify/chain.ts";
export { reportSignatureRaw, verifyReportSignature } from "./verify/report-signature.ts";
export {
  createSnpVerifier,
  type SnpEvidence,
  type SnpVerifier,
  type SnpVerifierOptions,
  type SnpVerifyOptions,
  type VerifiedSnpReport,
  verifySnpReport,
} from "./verify/verifier.ts";
