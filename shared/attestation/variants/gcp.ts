/**
 * `gcp-sev-es` (and the vTPM half of `gcp-sev-snp`): Google Compute Engine confidential VMs.
 *
 * AK trust: the AK certificate Google's vTPM carries must chain to Google's EK/AK CA roots (configured
 * by the verifier; the vectors' `tpm_ek_root_1.cer` / `gcp_ek_ak_ca_root.crt`). Constellation instead
 * asked the GCE API (`GetShieldedInstanceIdentity`) for the AK, which needs cloud credentials in the
 * verifier (reference §5.2); the certificate needs none.
 *
 * Instance identity: read from the certificate's GCE extension (authenticated by the chain). If the
 * evidence also carries Constellation-style instance info JSON `{"zone","project_id","instance_name"}`
 * (bound into the quote's qualifying data), it must agree with the certificate.
 *
 * Machine state (Constellation's `validateCVM`): the event log must be present and replay to the quoted
 * PCRs; its PCR 0 events must show GCE firmware version ≥ 1 and an AMD SEV technology. Constellation
 * requires exactly AMD_SEV; we also accept AMD_SEV_ES and AMD_SEV_SNP (stronger), and report which.
 */
import * as v from "valibot";
import { AttestationPolicyError } from "../errors.ts";
import type { Validator } from "../interfaces.ts";
import type { AttestationPolicy } from "../policy.ts";
import type { Variant } from "../variant.ts";
import type { AkCertTrust } from "../vtpm/ak-cert.ts";
import type { VtpmEvidence } from "../vtpm/evidence.ts";
import { type GceInstanceInfo, gceInstanceInfoOf } from "../vtpm/gce-instance.ts";
import { type GceMachineState, gceMachineState } from "../vtpm/gce-machine-state.ts";
import { validateVtpmDocument } from "../vtpm/validate.ts";
import type { VerifiedVtpm } from "../vtpm/verify.ts";

/** Options of the GCP validators. */
export interface GcpValidatorOptions {
  readonly policy: AttestationPolicy;
  /** Google's EK/AK CA roots (and optionally intermediates), DER. Required. */
  readonly akTrust?: AkCertTrust;
  readonly now?: () => Date;
}

/** Constellation's GCE instance info JSON (go-tpm-tools `GCEInstanceInfo`). */
const GceInstanceInfoJsonSchema = v.object({
  zone: v.string(),
  project_id: v.string(),
  instance_name: v.string(),
});

function requireTrust(variant: Variant, trust: AkCertTrust | undefined): AkCertTrust {
  if (!trust || trust.roots.length === 0) {
    throw new AttestationPolicyError("TRUST_NOT_CONFIGURED", `Cannot validate ${variant} documents`, {
      expected: "Google EK/AK CA roots (akTrust.roots)",
      actual: "none configured",
    });
  }
  return trust;
}

/** The GCE identity checks shared by both GCP variants. */
export function checkGceIdentity(evidence: VtpmEvidence, verified: VerifiedVtpm): GceInstanceInfo {
  const identity = verified.akCert ? gceInstanceInfoOf(verified.akCert) : undefined;
  if (identity === undefined) {
    throw new AttestationPolicyError(
      "PLATFORM_POLICY",
      "The AK certificate carries no GCE instance identity",
      {
        expected: "extension 1.3.6.1.4.1.11129.2.1.21",
      },
    );
  }
  if (evidence.instanceInfo !== undefined) {
    let claimed: v.InferOutput<typeof GceInstanceInfoJsonSchema> | undefined;
    try {
      const r = v.safeParse(
        GceInstanceInfoJsonSchema,
        JSON.parse(new TextDecoder().decode(evidence.instanceInfo)),
      );
      if (r.success) claimed = r.output;
    } catch {
      claimed = undefined;
    }
    if (
      claimed === undefined ||
      claimed.zone !== identity.zone ||
      claimed.project_id !== identity.projectId ||
      claimed.instance_name !== identity.instanceName
    ) {
      throw new AttestationPolicyError("PLATFORM_POLICY", "Instance info disagrees with the AK certificate", {
        expected: `${identity.projectId}/${identity.zone}/${identity.instanceName}`,
        actual: claimed
          ? `${claimed.project_id}/${claimed.zone}/${claimed.instance_name}`
          : "unparsable instance info",
      });
    }
  }
  return identity;
}

/** Minimum GCE virtual firmware version (Constellation `gce_version ≥ 1`). */
export const MIN_GCE_FIRMWARE_VERSION = 1;

/** Check the machine state the verified event log shows; returns it for the claims. */
export function checkGceMachineState(
  verified: VerifiedVtpm,
  technologies: readonly string[],
): GceMachineState {
  if (!verified.eventLog) {
    throw new AttestationPolicyError("PLATFORM_POLICY", "GCE evidence needs an event log", {
      expected: "an event log that replays to the quoted PCRs",
      actual: "none",
    });
  }
  const state = gceMachineState(verified.eventLog);
  if ((state.firmwareVersion ?? 0) < MIN_GCE_FIRMWARE_VERSION) {
    throw new AttestationPolicyError("PLATFORM_POLICY", "GCE firmware version too old or not measured", {
      expected: `≥ ${MIN_GCE_FIRMWARE_VERSION}`,
      actual: String(state.firmwareVersion ?? "none"),
    });
  }
  if (state.technology === undefined || !technologies.includes(state.technology)) {
    throw new AttestationPolicyError(
      "PLATFORM_POLICY",
      "VM does not run with the required confidential technology",
      {
        expected: technologies.join(" or "),
        actual: state.technology ?? "not measured",
      },
    );
  }
  return state;
}

/** Technologies accepted for gcp-sev-es. */
export const GCP_SEV_ES_TECHNOLOGIES = ["AMD_SEV", "AMD_SEV_ES", "AMD_SEV_SNP"] as const;

/** A validator for `gcp-sev-es` documents. */
export function createGcpSevEsValidator(opts: GcpValidatorOptions): Validator {
  const trust = requireTrust("gcp-sev-es", opts.akTrust);
  return {
    variant: "gcp-sev-es",
    validate: (document, nonce) =>
      validateVtpmDocument(
        document,
        nonce,
        {
          variant: "gcp-sev-es",
          akTrust: { kind: "certificate", trust },
          instanceInfo: "optional",
          check: async ({ evidence, verified }) => ({
            details: {
              instance: checkGceIdentity(evidence, verified),
              machineState: checkGceMachineState(verified, GCP_SEV_ES_TECHNOLOGIES),
            },
            configurationChecked: true,
          }),
        },
        { policy: opts.policy, now: opts.now ?? (() => new Date()) },
      ),
  };
}
