/**
 * The validator registry: variant name → Validator for a given policy and trust configuration.
 */
import { AttestationPolicyError } from "./errors.ts";
import type { Validator } from "./interfaces.ts";
import type { AttestationPolicy } from "./policy.ts";
import type { Variant } from "./variant.ts";
import { createAwsNitroTpmValidator } from "./variants/aws-nitro-tpm.ts";
import { createGcpSevEsValidator } from "./variants/gcp.ts";
import { createQemuVtpmValidator } from "./variants/qemu-vtpm.ts";
import {
  createAwsSevSnpValidator,
  createAzureSevSnpValidator,
  createGcpSevSnpValidator,
} from "./variants/snp-vtpm.ts";
import type { AkCertTrust } from "./vtpm/ak-cert.ts";
import type { SnpTrust } from "./vtpm/snp-instance.ts";

/** Everything a validator may need; each variant uses what applies to it. */
export interface ValidatorOptions {
  readonly policy: AttestationPolicy;
  /** The verification clock (certificate validity). */
  readonly now?: () => Date;
  /** Roots/intermediates for AK certificates (GCP variants). */
  readonly akTrust?: AkCertTrust;
  /** Pinned AK public keys, DER SPKI (qemu-vtpm, aws-nitro-tpm). */
  readonly akKeys?: readonly Uint8Array[];
  /** AMD roots / a shared SNP verifier for the SNP-based variants (default: built-in AMD roots). */
  readonly snpTrust?: SnpTrust;
}

const snp = (o: ValidatorOptions) => (o.snpTrust ? { snpTrust: o.snpTrust } : {});

/** A validator for `variant`, or `VARIANT_UNSUPPORTED` if this build has none (TDX: separate issue). */
export function createValidator(variant: Variant, opts: ValidatorOptions): Validator {
  const common = { policy: opts.policy, ...(opts.now ? { now: opts.now } : {}) };
  switch (variant) {
    case "qemu-vtpm":
      return createQemuVtpmValidator({ ...common, ...(opts.akKeys ? { akKeys: opts.akKeys } : {}) });
    case "aws-nitro-tpm":
      return createAwsNitroTpmValidator({ ...common, ...(opts.akKeys ? { akKeys: opts.akKeys } : {}) });
    case "gcp-sev-es":
      return createGcpSevEsValidator({ ...common, ...(opts.akTrust ? { akTrust: opts.akTrust } : {}) });
    case "gcp-sev-snp":
      return createGcpSevSnpValidator({
        ...common,
        ...snp(opts),
        ...(opts.akTrust ? { akTrust: opts.akTrust } : {}),
      });
    case "aws-sev-snp":
      return createAwsSevSnpValidator({ ...common, ...snp(opts) });
    case "azure-sev-snp":
      return createAzureSevSnpValidator({ ...common, ...snp(opts) });
    case "qemu-tdx":
    case "azure-tdx":
      throw new AttestationPolicyError("VARIANT_UNSUPPORTED", "Cannot validate this variant", {
        expected: "a variant with a validator in this build",
        actual: variant,
      });
  }
}
