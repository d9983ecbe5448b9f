/**
 * The validate pipeline shared by every vTPM-based variant (reference §5.1 "Validate"):
 * parse the document → variant and nonce → recompute extraData and the TPM qualifying data → verify the
 * evidence (AK trust, quotes, event log) → variant-specific checks → measurements policy on the
 * SHA-256 bank → claims.
 */
import { constantTimeEqual, toHex } from "@asterism/bytes";
import { describeFindings, validateMeasurements } from "@asterism/measurements";
import { makeExtraData, tpmQualifyingData } from "../binding.ts";
import { parseAttestationDocument } from "../document.ts";
import { AttestationParseError, AttestationVerifyError } from "../errors.ts";
import type { VerifiedClaims } from "../interfaces.ts";
import { type AttestationPolicy, checkPolicyForVariant } from "../policy.ts";
import type { Variant } from "../variant.ts";
import { parseVtpmEvidence, type VtpmEvidence } from "./evidence.ts";
import { type AkTrust, sha256Values, type VerifiedVtpm, verifyVtpmEvidence } from "./verify.ts";

/** What a variant adds to the common vTPM pipeline. */
export interface VtpmVariantSpec {
  readonly variant: Variant;
  /** How the AK is trusted for this variant and configuration. */
  readonly akTrust: AkTrust;
  /** Whether the evidence must / must not carry instance info. */
  readonly instanceInfo: "forbidden" | "required" | "optional";
  /**
   * Variant checks after the evidence is authentic (e.g. SNP report binding, instance identity).
   * Returns extra details, warnings and trust facts.
   */
  readonly check?: (ctx: {
    evidence: VtpmEvidence;
    verified: VerifiedVtpm;
    extraData: Uint8Array;
  }) => Promise<{
    details?: Record<string, unknown>;
    warnings?: string[];
    hardwareVerified?: boolean;
    configurationChecked?: boolean;
    /** The variant bound the AK to other authenticated evidence (e.g. an AMD-signed report). */
    identityTrusted?: boolean;
  }>;
}

/** Options every vTPM validator takes. */
export interface VtpmValidateOptions {
  readonly policy: AttestationPolicy;
  readonly now: () => Date;
  readonly allowSha1?: boolean;
}

/** Run the pipeline; throws coded errors; returns verified claims. */
export async function validateVtpmDocument(
  bytes: Uint8Array,
  nonce: Uint8Array,
  spec: VtpmVariantSpec,
  opts: VtpmValidateOptions,
): Promise<VerifiedClaims> {
  const doc = parseAttestationDocument(bytes);
  if (doc.variant !== spec.variant) {
    throw new AttestationVerifyError("VARIANT_MISMATCH", "Document is for another variant", {
      expected: spec.variant,
      actual: doc.variant,
    });
  }
  checkPolicyForVariant(opts.policy, spec.variant);
  if (!constantTimeEqual(doc.nonce, nonce)) {
    throw new AttestationVerifyError("NONCE_MISMATCH", "Document was issued for another nonce", {
      expected: toHex(nonce),
      actual: toHex(doc.nonce),
    });
  }
  const evidence = parseVtpmEvidence(doc.evidence);
  if (spec.instanceInfo === "forbidden" && evidence.instanceInfo !== undefined) {
    throw new AttestationParseError("INVALID_SCHEMA", `Cannot parse ${spec.variant} evidence`, {
      expected: "no instanceInfo",
      actual: `${evidence.instanceInfo.length} bytes of instanceInfo`,
    });
  }
  if (spec.instanceInfo === "required" && evidence.instanceInfo === undefined) {
    throw new AttestationParseError("INVALID_SCHEMA", `Cannot parse ${spec.variant} evidence`, {
      expected: "instanceInfo",
      actual: "none",
    });
  }
  const extraData = makeExtraData(doc.userData, nonce);
  const qualifyingData = tpmQualifyingData(extraData, evidence.instanceInfo);
  const verified = await verifyVtpmEvidence(evidence, {
    qualifyingData,
    akTrust: spec.akTrust,
    now: opts.now(),
    ...(opts.allowSha1 !== undefined ? { allowSha1: opts.allowSha1 } : {}),
  });
  if (!verified.banks.has("sha256")) {
    // Measurements are SHA-256 PCRs (reference §5.1 step 6; "Attestation without a SHA-256 quote fails").
    throw new AttestationVerifyError("NO_SUPPORTED_QUOTE", "The evidence has no SHA-256 quote", {
      expected: "a quote over the SHA-256 bank",
      actual: [...verified.banks.keys()].join(", "),
    });
  }
  const extra = spec.check ? await spec.check({ evidence, verified, extraData }) : {};
  const measured = sha256Values(verified);
  const verdict = validateMeasurements(opts.policy.measurements, measured);
  const warnings = [...describeFindings(verdict.warnings), ...(extra.warnings ?? [])];
  if (spec.akTrust.kind === "unconditional")
    warnings.push(`attestation key not verified: ${spec.akTrust.reason}`);
  if (verified.ignoredBanks.length) warnings.push(`ignored quotes over ${verified.ignoredBanks.join(", ")}`);
  return {
    variant: spec.variant,
    userData: doc.userData,
    measurements: measured,
    warnings,
    details: {
      akSpki: toHex(verified.akSpki),
      eventLogVerified: verified.eventLogVerified,
      ...(extra.details ?? {}),
    },
    trust: {
      identityTrusted: verified.akTrusted || extra.identityTrusted === true,
      hardwareVerified: extra.hardwareVerified ?? false,
      configurationChecked: extra.configurationChecked ?? false,
      measurementWarnings: verdict.warnings.length,
    },
  };
}
