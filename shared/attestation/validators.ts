/**
 * The validator registry: variant name → Validator for a given policy and trust configuration.
 */
import { AttestationPolicyError } from "./errors.ts";
import type { Validator } from "./interfaces.ts";
import type { AttestationPolicy } from "./policy.ts";
import type { Variant } from "./variant.ts";
import type { AkCertTrust } from "./vtpm/ak-cert.ts";

/** Everything a validator may need; each variant uses what applies to it. */
export interface ValidatorOptions {
  readonly policy: AttestationPolicy;
  /** The verification clock (certificate validity). */
  readonly now?: () => Date;
  /** Roots/intermediates for AK certificates (GCP variants). */
  readonly akTrust?: AkCertTrust;
  /** Accept SHA-1 PCR banks (never for production; go-tpm-tools `AllowSHA1`). */
  readonly allowSha1?: boolean;
}

/** A validator for `variant`, or `VARIANT_UNSUPPORTED` if this build has none. */
export function createValidator(variant: Variant, _opts: ValidatorOptions): Validator {
  throw new AttestationPolicyError("VARIANT_UNSUPPORTED", "Cannot validate this variant", {
    expected: "a variant with a validator in this build",
    actual: variant,
  });
}
