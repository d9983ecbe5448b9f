/**
 * Owner approval: the cluster owners' passkeys approve every change that widens or weakens trust
 * (attestation policy, KMS key rotation, node revocation, owner changes, recovery), and every approved
 * change is appended to a hash-chained audit log that the owners' signatures alone make verifiable.
 *
 * Stages, each with its own error class: parse (`OwnerParseError`: canonical JSON, schemas, WebAuthn
 * structures), verify (`ApprovalError`: one assertion against one passkey — challenge = change digest,
 * origin, RP ID, user verification, counter, signature), validate (`ChangeRejectedError`: chain
 * position, expiry, payload rules, M-of-N owners, possession of new passkeys), and the log as a whole
 * (`AuditLogError`: anchor, chain links, unapproved policy objects).
 *
 * @example
 * import { createApprovedStateLoader } from "@asterism/owner";
 * const loader = createApprovedStateLoader({ state, anchor: pinnedGenesisHash, logger });
 * const approved = await loader.loadPolicy(); // throws NO_APPROVED_POLICY, never returns an unapproved one
 * validator = createValidator({ policy: approved.policy, ... });
 *
 * @module
 */
export {
  type Approval,
  type ApprovalCheck,
  ApprovalSchema,
  approvalFromAssertion,
  assertionOptions,
  originAllowed,
  parseApproval,
  type VerifiedApproval,
  verifyApproval,
} from "./approval.ts";
export {
  type ApprovedEvent,
  type ApprovedPolicy,
  type ApprovedState,
  applyChange,
} from "./approved-state.ts";
export {
  AUDIT_ENTRY_FORMAT,
  type AuditEntry,
  applyAuditEntry,
  auditEntryHash,
  createAuditEntry,
  MAX_APPROVALS,
  MAX_AUDIT_ENTRIES,
  MAX_AUDIT_ENTRY_BYTES,
  parseAuditEntry,
  parseAuditEntryValue,
  serializeAuditEntry,
  type VerifiedLog,
  type VerifyAuditLogOptions,
  verifyAuditLog,
} from "./audit-log.ts";
export {
  canonicalJson,
  canonicalJsonBytes,
  MAX_CANONICAL_DEPTH,
  parseCanonicalJson,
} from "./canonical-json.ts";
export {
  CHANGE_FORMAT,
  CHANGE_KINDS,
  type ChainPosition,
  type Change,
  type ChangeKind,
  type ChangeOf,
  ChangeSchema,
  type CreateChangeOptions,
  changeDigest,
  createChange,
  GENESIS_PREVIOUS,
  MAX_CHANGE_BYTES,
  MAX_CHANGE_LIFETIME_SECONDS,
  MAX_CREDENTIALS_PER_OWNER,
  MAX_OWNERS,
  type Owner,
  type OwnerCredential,
  OwnerCredentialSchema,
  OwnerSchema,
  type PayloadOf,
  PayloadSchemas,
  type PolicyJson,
  parseChange,
  parseChangeValue,
  type RelyingParty,
  RelyingPartySchema,
  SUPPORTED_COSE_ALGORITHMS,
  serializeChange,
} from "./change.ts";
export { type ChangeDescription, type DiffItem, describeChange, type TrustEffect } from "./diff.ts";
export { REGISTRATION_CHALLENGE_BYTES, registrationOptions, verifyRegistration } from "./enrollment.ts";
export {
  ApprovalError,
  type ApprovalErrorCode,
  AuditLogError,
  type AuditLogErrorCode,
  ChangeRejectedError,
  type ChangeRejectedErrorCode,
  OwnerParseError,
  type OwnerParseErrorCode,
} from "./errors.ts";
export {
  type ApprovedStateLoader,
  type ApprovedStateLoaderOptions,
  createApprovedStateLoader,
  type LoadedApprovals,
  type LoadOptions,
} from "./loader.ts";
export { approvedRotation, type PendingRotation, recordRotationDone } from "./operations.ts";
export { policyFingerprint, samePolicy } from "./policy-compare.ts";
export { type EnforcedPolicy, enforceApprovedPolicy } from "./policy-gate.ts";
export {
  MAX_RECOVERY_ENTRIES,
  type OwnerPin,
  type RecoveryApprovalCheck,
  type VerifiedRecovery,
  verifyRecoveryApproval,
} from "./recovery.ts";
export {
  type ApprovalProgress,
  CLOCK_SKEW_SECONDS,
  checkApprovals,
  checkPayload,
  checkPlacement,
  type EvaluateOptions,
  evaluateApprovals,
} from "./rules.ts";
export { formatTime } from "./schemas.ts";
export {
  type ApproveResult,
  auditEntryName,
  MAX_PENDING_LISTED,
  OWNER_LABEL,
  OwnerStore,
  type PendingChange,
  POLICY_KEY,
  POLICY_OBJECT,
  pendingChangeName,
  type UnreadablePending,
} from "./store.ts";
export {
  type AssertionAuthenticatorData,
  AuthenticatorData,
  type ClientData,
  parseAssertionAuthenticatorData,
  parseClientData,
} from "./webauthn-data.ts";
