import type { AppraisalFacts } from "./result.ts";
import type { Variant } from "./variant.ts";

/**
 * Produces evidence for this machine. `userData` is what the evidence vouches for (in aTLS: SHA-256 of
 * the certificate's SubjectPublicKeyInfo); `nonce` is the verifier's freshness value. Every variant binds
 * both into the hardware evidence as extraData = SHA-256(userData ‖ nonce).
 */
export interface Issuer {
  readonly variant: Variant;
  /** The serialized attestation document (JSON bytes). */
  issue(userData: Uint8Array, nonce: Uint8Array): Promise<Uint8Array>;
}

/** The claims a validator vouches for once evidence is authentic and within policy. */
export interface VerifiedClaims {
  readonly variant: Variant;
  /** The userData the evidence is bound to; the caller compares it with what it expects. */
  readonly userData: Uint8Array;
  /** Measured values by index (PCRs or MRTD/RTMRs), lower-case hex. */
  readonly measurements: Readonly<Record<number, string>>;
  /** Non-fatal findings (warn-only mismatches, provisional firmware …). */
  readonly warnings: readonly string[];
  /**
   * Variant-specific verified facts. Well-known keys (mapped into the EAR result): `tcb`, `chipId` (hex),
   * `instance` (instance identity), `akSpki` (hex).
   */
  readonly details: Readonly<Record<string, unknown>>;
  /** How strong the checks were (for the EAR trustworthiness vector); absent = nothing vouched beyond a match. */
  readonly trust?: AppraisalFacts;
}

/**
 * Checks a document for one variant: authenticity (signatures, chains) and policy (measurements, TCB).
 * Throws a coded error on any failure; returns claims only for evidence that passed every check, bound
 * to `nonce`.
 */
export interface Validator {
  readonly variant: Variant;
  validate(document: Uint8Array, nonce: Uint8Array): Promise<VerifiedClaims>;
}
