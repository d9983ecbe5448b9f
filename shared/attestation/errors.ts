import { AsterismError } from "@asterism/errors";

/** Why an attestation document could not be read (parse stage: shape only, no trust decisions). */
export type AttestationParseErrorCode =
  /** Larger than {@link MAX_DOCUMENT_BYTES} (or a bounded inner field is). */
  | "TOO_LARGE"
  /** Not UTF-8 JSON. */
  | "INVALID_SYNTAX"
  /** JSON of the wrong shape (valibot issue in the message). */
  | "INVALID_SCHEMA"
  /** A document version this build does not read. */
  | "UNSUPPORTED_VERSION"
  /** A variant name not in the registry. */
  | "UNKNOWN_VARIANT"
  /** A binary field that is not strict standard base64. */
  | "INVALID_ENCODING"
  /** A binary field of the wrong length (userData, nonce, extraData). */
  | "INVALID_LENGTH"
  /** Variant evidence whose binary structures do not decode (TPM structures, event log). */
  | "INVALID_EVIDENCE";

/** Thrown when a document (or its evidence) cannot be parsed. */
export class AttestationParseError extends AsterismError<AttestationParseErrorCode> {
  override readonly domain = "attestation";
}

/** Why evidence is not authentic or not bound to this exchange (verify stage). */
export type AttestationVerifyErrorCode =
  /** The document names another variant than the validator handles. */
  | "VARIANT_MISMATCH"
  /** The document's nonce is not the verifier's nonce. */
  | "NONCE_MISMATCH"
  /** The hardware evidence does not carry the expected binding (TPM qualifying data, report data). */
  | "BINDING_MISMATCH"
  /** A quote signature does not verify with the attestation key. */
  | "QUOTE_SIGNATURE_INVALID"
  /** A quote is structurally acceptable TPM data but not a quote we accept (type, magic, selection). */
  | "QUOTE_INVALID"
  /** The PCR values do not hash to the quote's pcrDigest. */
  | "PCR_DIGEST_MISMATCH"
  /** No quote over a bank we accept (SHA-256 required; SHA-1 only when explicitly allowed). */
  | "NO_SUPPORTED_QUOTE"
  /** A quote uses a hash algorithm that is not allowed (SHA-1 by default). */
  | "HASH_NOT_ALLOWED"
  /** The attestation key is not trusted (no trusted key or certificate chain). */
  | "AK_UNTRUSTED"
  /** The AK certificate does not chain to a trusted root, is expired, or is malformed. */
  | "AK_CERT_INVALID"
  /** The AK certificate's key is not the key that signed the quotes. */
  | "AK_MISMATCH"
  /** The event log does not replay to the quoted PCR values. */
  | "EVENT_LOG_MISMATCH"
  /** A batch inclusion proof is malformed (index, size, path length or hash size; see nonce-tree.ts). */
  | "INCLUSION_PROOF_INVALID";

/** Thrown when evidence is not authentic or not bound to the verifier's nonce and user data. */
export class AttestationVerifyError extends AsterismError<AttestationVerifyErrorCode> {
  override readonly domain = "attestation";
}

/** Why authentic evidence is not acceptable (validate stage, beyond the measurements verdict). */
export type AttestationPolicyErrorCode =
  /** The policy does not allow this variant. */
  | "VARIANT_NOT_ALLOWED"
  /** This build has no validator for the variant (yet). */
  | "VARIANT_UNSUPPORTED"
  /** The verifier's configuration lacks what the variant needs (e.g. no AK roots for GCP). */
  | "TRUST_NOT_CONFIGURED"
  /** The policy is malformed or does not fit the variant (e.g. 48-byte values for a TPM variant). */
  | "POLICY_INVALID"
  /** Variant-specific platform checks failed (e.g. instance identity, SNP/TCB policy). */
  | "PLATFORM_POLICY";

/** Thrown when authentic evidence does not satisfy the policy. */
export class AttestationPolicyError extends AsterismError<AttestationPolicyErrorCode> {
  override readonly domain = "attestation";
}

/** Why evidence could not be issued (issuer side). */
export type AttestationIssueErrorCode =
  /** The batch queue is full: too many verifiers are waiting for the next quote (back-pressure). */
  "BATCH_QUEUE_FULL";

/** Thrown on the issuing side (a node answering verifiers), never for a verifier's input. */
export class AttestationIssueError extends AsterismError<AttestationIssueErrorCode> {
  override readonly domain = "attestation";
}
