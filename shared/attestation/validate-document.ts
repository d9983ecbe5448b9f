/**
 * One entry point for verifiers that hold a document and a policy (CLI `verify-doc`, JoinService,
 * VerificationService clients): parse → policy admits the variant → nonce → the variant's validator →
 * EAR-shaped result.
 */
import { constantTimeEqual, toHex } from "@asterism/bytes";
import { type AttestationDocument, parseAttestationDocument } from "./document.ts";
import { AttestationVerifyError } from "./errors.ts";
import type { VerifiedClaims } from "./interfaces.ts";
import { type AttestationPolicy, checkPolicyForVariant } from "./policy.ts";
import { type EarResult, toEar } from "./result.ts";
import { createValidator, type ValidatorOptions } from "./validators.ts";

/** Options for {@link validateDocument}. */
export interface DocumentValidationOptions extends Omit<ValidatorOptions, "policy"> {
  readonly policy: AttestationPolicy;
  /**
   * The verifier's own nonce. When absent (offline checks of a stored document) the document's nonce is
   * used: the hardware binding is still verified, but freshness is not — the result says so in a warning.
   */
  readonly nonce?: Uint8Array;
  /** Build string for the EAR verifier id. */
  readonly build?: string;
}

/** The outcome of a successful validation. */
export interface DocumentValidation {
  readonly document: AttestationDocument;
  readonly claims: VerifiedClaims;
  readonly ear: EarResult;
}

/** Validate a serialized document against a policy; throws a coded error on any failure. */
export async function validateDocument(
  bytes: Uint8Array,
  opts: DocumentValidationOptions,
): Promise<DocumentValidation> {
  const document = parseAttestationDocument(bytes);
  checkPolicyForVariant(opts.policy, document.variant);
  if (opts.nonce !== undefined && !constantTimeEqual(opts.nonce, document.nonce)) {
    throw new AttestationVerifyError("NONCE_MISMATCH", "Document was issued for another nonce", {
      expected: toHex(opts.nonce),
      actual: toHex(document.nonce),
    });
  }
  const now = opts.now ?? (() => new Date());
  const validator = createValidator(document.variant, { ...opts, now });
  const validated = await validator.validate(bytes, opts.nonce ?? document.nonce);
  const claims: VerifiedClaims =
    opts.nonce === undefined
      ? { ...validated, warnings: [...validated.warnings, "freshness not checked: no verifier nonce given"] }
      : validated;
  const ear = toEar(
    claims,
    claims.trust ?? { identityTrusted: false, hardwareVerified: false, configurationChecked: false },
    { now: now(), build: opts.build ?? "asterism", nonce: document.nonce },
  );
  return { document, claims, ear };
}
