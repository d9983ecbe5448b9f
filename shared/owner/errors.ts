import { AsterismError } from "@asterism/errors";

/**
 * Why bytes could not be read as a change, an approval, an audit entry or a registration (parse stage:
 * shape only, no judgement about signatures or rules).
 */
export type OwnerParseErrorCode =
  /** Input larger than the limit for its kind. */
  | "TOO_LARGE"
  /** Not UTF-8 or not well-formed JSON. */
  | "INVALID_SYNTAX"
  /** Well-formed, but not the expected shape (wrong types, unknown keys, out-of-range values). */
  | "INVALID_SCHEMA"
  /** Valid JSON whose bytes are not the RFC 8785 canonical form of its value. */
  | "NOT_CANONICAL"
  /** A value JSON canonicalization cannot represent exactly (lone surrogate, non-finite number, deep nesting). */
  | "NOT_REPRESENTABLE"
  /** WebAuthn authenticator data or client data that cannot be decoded. */
  | "INVALID_AUTHENTICATOR_DATA"
  /** A signature not in the one encoding its algorithm allows (strict DER for ES256, 64 bytes for EdDSA). */
  | "INVALID_SIGNATURE_ENCODING";

/** Thrown when owner data (changes, approvals, audit entries, registrations) cannot be parsed. */
export class OwnerParseError extends AsterismError<OwnerParseErrorCode> {
  override readonly domain = "owner";
}

/** Why an approval (a WebAuthn assertion) or a registration is not authentic (verify stage). */
export type ApprovalErrorCode =
  /** The assertion names a credential that is not enrolled (or not allowed to approve this change). */
  | "UNKNOWN_CREDENTIAL"
  /** The signed challenge is not the digest of this change: the approval is for a different change. */
  | "CHALLENGE_MISMATCH"
  /** clientDataJSON.type is not `webauthn.get` (or `webauthn.create` for a registration). */
  | "WRONG_CEREMONY"
  /** The page that ran the ceremony is not an allowed origin, or ran in a cross-origin frame. */
  | "ORIGIN_NOT_ALLOWED"
  /** The authenticator data is for another relying party ID. */
  | "RP_ID_MISMATCH"
  /** The authenticator did not report user presence and user verification (PIN or biometric). */
  | "USER_NOT_VERIFIED"
  /** The signature counter did not increase: a replayed or cloned assertion. */
  | "COUNTER_REPLAY"
  /** The signature does not verify with the enrolled public key (or the library refused the response). */
  | "SIGNATURE_INVALID"
  /** The same owner (or credential) approved twice; each counts once. */
  | "DUPLICATE_APPROVAL"
  /** A registration response did not verify (attestation object, challenge, origin, algorithm). */
  | "REGISTRATION_INVALID";

/** Thrown when an approval or a registration fails verification. */
export class ApprovalError extends AsterismError<ApprovalErrorCode> {
  override readonly domain = "owner";
}

/** Why a change may not take effect (validate stage: the owners' rules). */
export type ChangeRejectedErrorCode =
  /** Fewer distinct owners approved than the threshold requires. */
  | "THRESHOLD_NOT_MET"
  /** A credential added by an owner change (or enrolled at genesis) did not prove possession. */
  | "POSSESSION_NOT_PROVEN"
  /** The change was built on another chain head (`previous`/`sequence`): it is stale or replayed. */
  | "STALE_CHANGE"
  /** The change names another cluster. */
  | "CLUSTER_MISMATCH"
  /** The change expired before it was approved, or is not valid yet. */
  | "CHANGE_EXPIRED"
  /** The payload breaks a rule of its kind (threshold above owner count, duplicate credential, …). */
  | "INVALID_PAYLOAD"
  /** A genesis change where the log already has one, or another kind where it has none. */
  | "WRONG_KIND"
  /** An operation (key rotation) that no approved change authorizes, or whose approval was used already. */
  | "NOT_APPROVED"
  /** A recovery approval for another node or another disk. */
  | "RECOVERY_TARGET_MISMATCH"
  /** A recovery approval whose nonce this node did not issue during this boot, or already used (replay). */
  | "RECOVERY_NONCE_INVALID";

/** Thrown when a change is authentic but may not take effect. */
export class ChangeRejectedError extends AsterismError<ChangeRejectedErrorCode> {
  override readonly domain = "owner";
}

/** Why an audit log (or the approved state derived from it) is not trustworthy. */
export type AuditLogErrorCode =
  /** No entries at all. */
  | "EMPTY_LOG"
  /** The first entry's hash is not the pinned anchor: a different (or rewritten) log. */
  | "ANCHOR_MISMATCH"
  /** An entry's `previous` is not the hash of the entry before it, or indices are not consecutive. */
  | "CHAIN_BROKEN"
  /** An entry whose change or approvals do not verify; `cause` holds the underlying error. */
  | "ENTRY_INVALID"
  /** No attestation policy has been approved yet: services must not run with none. */
  | "NO_APPROVED_POLICY"
  /** The policy object in cluster state differs from the last approved one (edited without approval). */
  | "POLICY_NOT_APPROVED"
  /** More entries than {@link MAX_AUDIT_ENTRIES}. */
  | "TOO_MANY_ENTRIES"
  /** The log no longer contains an entry the verifier knew (rolled back or rewritten below it). */
  | "ROLLED_BACK";

/** Thrown when an audit log does not verify, or when state disagrees with it. */
export class AuditLogError extends AsterismError<AuditLogErrorCode> {
  override readonly domain = "owner";
}
