/**
 * `qemu-vtpm`: a QEMU VM with a software TPM (swtpm). This is what the local cluster uses.
 *
 * Trust: the AK is taken from the document (as in Constellation, reference §5.2) unless the verifier
 * pins AK keys (`akKeys`). swtpm runs outside any TEE, so the host can forge everything: this variant
 * proves measurements only against a trusted host, and its result never claims a verified identity or
 * hardware (EAR instance-identity/hardware = 0 unless AKs are pinned).
 */
import { serializeAttestationDocument } from "../document.ts";
import type { Issuer, Validator } from "../interfaces.ts";
import type { AttestationPolicy } from "../policy.ts";
import { vtpmEvidenceToJson } from "../vtpm/evidence.ts";
import { issueVtpmEvidence, type VtpmIssuerDeps } from "../vtpm/issue.ts";
import { validateVtpmDocument } from "../vtpm/validate.ts";
import type { AkTrust } from "../vtpm/verify.ts";

/** An issuer on a live TPM. */
export function createQemuVtpmIssuer(deps: VtpmIssuerDeps): Issuer {
  return {
    variant: "qemu-vtpm",
    async issue(userData, nonce) {
      const evidence = await issueVtpmEvidence(deps, userData, nonce);
      return serializeAttestationDocument({
        variant: "qemu-vtpm",
        userData,
        nonce,
        evidence: vtpmEvidenceToJson(evidence),
      });
    },
  };
}

/** Options of the qemu-vtpm validator. */
export interface QemuVtpmValidatorOptions {
  readonly policy: AttestationPolicy;
  readonly now?: () => Date;
  /** Pinned AK public keys (DER SPKI); absent = AK taken on faith (development only). */
  readonly akKeys?: readonly Uint8Array[];
}

/** A validator for qemu-vtpm documents. */
export function createQemuVtpmValidator(opts: QemuVtpmValidatorOptions): Validator {
  const akTrust: AkTrust = opts.akKeys?.length
    ? { kind: "keys", spkis: opts.akKeys }
    : { kind: "unconditional", reason: "qemu-vtpm has no AK provenance (swtpm on the host)" };
  return {
    variant: "qemu-vtpm",
    validate: (document, nonce) =>
      validateVtpmDocument(
        document,
        nonce,
        { variant: "qemu-vtpm", akTrust, instanceInfo: "forbidden" },
        { policy: opts.policy, now: opts.now ?? (() => new Date()) },
      ),
  };
}
