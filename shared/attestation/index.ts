/**
 * Platform-neutral attestation: variants and their aTLS OIDs, the Issuer/Validator contracts every
 * platform implements, the versioned document envelope, the userData/nonce binding, the validation
 * policy, and the EAR-shaped verification result.
 *
 * Stages and their errors: parse (AttestationParseError), verify (AttestationVerifyError: authenticity
 * and binding), validate (AttestationPolicyError, plus `MEASUREMENT_MISMATCH` from @asterism/measurements).
 *
 * @example
 * import { makeExtraData, parseAttestationDocument } from "@asterism/attestation";
 * const doc = parseAttestationDocument(bytes);              // shape only
 * const claims = await validator.validate(bytes, myNonce);  // authenticity + binding + policy
 *
 * @module
 */

export { type BatchedValidationOptions, validateBatchedDocument } from "./batched.ts";
export {
  checkBinding,
  EXTRA_DATA_BYTES,
  EXTRA_DATA_PLACEMENT,
  makeExtraData,
  NONCE_BYTES,
  reportDataForExtraData,
  tpmQualifyingData,
  USER_DATA_BYTES,
} from "./binding.ts";
export {
  type AttestationDocument,
  AttestationDocumentSchema,
  DOCUMENT_VERSION,
  decodeBase64Field,
  MAX_DOCUMENT_BYTES,
  parseAttestationDocument,
  serializeAttestationDocument,
} from "./document.ts";
export {
  AttestationIssueError,
  type AttestationIssueErrorCode,
  AttestationParseError,
  type AttestationParseErrorCode,
  AttestationPolicyError,
  type AttestationPolicyErrorCode,
  AttestationVerifyError,
  type AttestationVerifyErrorCode,
} from "./errors.ts";
export type { Issuer, Validator, VerifiedClaims } from "./interfaces.ts";
export {
  type BatchedEvidence,
  createNonceBatcher,
  type NonceBatcher,
  type NonceBatcherOptions,
} from "./nonce-batcher.ts";
export {
  BATCH_NONCE_BYTES,
  buildNonceTree,
  type InclusionProof,
  leafHash,
  MAX_BATCH_SIZE,
  MAX_PROOF_HASHES,
  type NonceTree,
  rootFromProof,
  verifyInclusion,
} from "./nonce-tree.ts";
export {
  type AttestationPolicy,
  AttestationPolicySchema,
  checkPolicyForVariant,
  parseAttestationPolicy,
} from "./policy.ts";
export {
  type AppraisalFacts,
  AR4SI,
  EAR_PROFILE,
  type EarAppraisal,
  type EarOptions,
  type EarResult,
  type EarStatus,
  earFromError,
  type TrustworthinessVector,
  toEar,
} from "./result.ts";
export {
  type DocumentValidation,
  type DocumentValidationOptions,
  validateDocument,
} from "./validate-document.ts";
export { createValidator, type ValidatorOptions } from "./validators.ts";
export { isVariant, VARIANTS, type Variant, variantByOid } from "./variant.ts";
export {
  type AwsNitroTpmIssuerDeps,
  type AwsNitroTpmValidatorOptions,
  createAwsNitroTpmIssuer,
  createAwsNitroTpmValidator,
} from "./variants/aws-nitro-tpm.ts";
export {
  checkGceMachineState,
  createGcpSevEsValidator,
  type GcpValidatorOptions,
  MIN_GCE_FIRMWARE_VERSION,
} from "./variants/gcp.ts";
export {
  createQemuVtpmIssuer,
  createQemuVtpmValidator,
  type QemuVtpmValidatorOptions,
} from "./variants/qemu-vtpm.ts";
export {
  awsReportDataFor,
  checkHclAkBinding,
  createAwsSevSnpIssuer,
  createAwsSevSnpValidator,
  createAzureSevSnpValidator,
  createGcpSevSnpValidator,
  HCL_AK_KID,
  type SnpReportSource,
  type SnpVtpmValidatorOptions,
} from "./variants/snp-vtpm.ts";
export { type AkCertTrust, MAX_CHAIN_DEPTH, verifyAkCertificate } from "./vtpm/ak-cert.ts";
export { akSpki } from "./vtpm/ak-key.ts";
export {
  MAX_EVENT_LOG_BYTES,
  type PcrBankName,
  parseVtpmEvidence,
  type VtpmEvidence,
  VtpmEvidenceSchema,
  type VtpmQuote,
  vtpmEvidenceToJson,
} from "./vtpm/evidence.ts";
export { GCE_INSTANCE_INFO_OID, type GceInstanceInfo, parseGceInstanceInfo } from "./vtpm/gce-instance.ts";
export { GCE_TECHNOLOGY, type GceMachineState, gceMachineState } from "./vtpm/gce-machine-state.ts";
export { issueVtpmEvidence, QUOTED_PCRS, type VtpmIssuerDeps } from "./vtpm/issue.ts";
export {
  checkSnpReport,
  parseSnpInstanceInfo,
  type SnpInstanceInfo,
  SnpInstanceInfoSchema,
  type SnpTrust,
  serializeSnpInstanceInfo,
} from "./vtpm/snp-instance.ts";
export {
  type AkTrust,
  type VerifiedVtpm,
  type VtpmVerifyOptions,
  verifyVtpmEvidence,
} from "./vtpm/verify.ts";
