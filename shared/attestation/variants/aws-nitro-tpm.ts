/**
 * `aws-nitro-tpm`: EC2 instances with NitroTPM.
 *
 * Weakness (inherited from the platform, reference §5.2 and §11.2): NitroTPM gives no AK provenance — no
 * AK/EK certificate the verifier could check — and it runs in the Nitro hypervisor, outside any TEE, so
 * its PCRs are as trustworthy as the hypervisor. Constellation takes the AK from the document
 * unconditionally and then asks EC2 `DescribeImages` (with AWS credentials) whether the AMI has
 * `TpmSupport == "v2.0"`; the EC2 instance-identity document it hashes into the quote is unsigned.
 *
 * What we require instead, where possible:
 * - `akKeys`: pin AK public keys registered out of band (e.g. recorded at provisioning through the EC2
 *   API `GetInstanceTpmEkPub` and an activate-credential exchange). With pinned keys the identity is
 *   verified; without them the result says "attestation key not verified" and claims no identity.
 * - the identity document must be present and is bound into the quote (SHA-256(doc ‖ extraData)), so it
 *   cannot be swapped after the fact; its fields are reported but flagged as unsigned.
 * - no cloud API calls in the verifier (no credentials): `DescribeImages` is not performed.
 */
import * as v from "valibot";
import { serializeAttestationDocument } from "../document.ts";
import { AttestationParseError } from "../errors.ts";
import type { Issuer, Validator } from "../interfaces.ts";
import type { AttestationPolicy } from "../policy.ts";
import { vtpmEvidenceToJson } from "../vtpm/evidence.ts";
import { issueVtpmEvidence, type VtpmIssuerDeps } from "../vtpm/issue.ts";
import { validateVtpmDocument } from "../vtpm/validate.ts";
import type { AkTrust } from "../vtpm/verify.ts";

/** The fields of the EC2 instance-identity document we report. */
const IdentityDocumentSchema = v.object({
  accountId: v.string(),
  instanceId: v.string(),
  region: v.string(),
  imageId: v.string(),
});

/** Issuer dependencies: the TPM and the IMDS instance-identity document reader. */
export interface AwsNitroTpmIssuerDeps extends VtpmIssuerDeps {
  /** Raw bytes of `http://169.254.169.254/latest/dynamic/instance-identity/document`. */
  readonly readIdentityDocument: () => Promise<Uint8Array>;
}

export function createAwsNitroTpmIssuer(deps: AwsNitroTpmIssuerDeps): Issuer {
  return {
    variant: "aws-nitro-tpm",
    async issue(userData, nonce) {
      const info = await deps.readIdentityDocument();
      const evidence = await issueVtpmEvidence(deps, userData, nonce, info);
      return serializeAttestationDocument({
        variant: "aws-nitro-tpm",
        userData,
        nonce,
        evidence: vtpmEvidenceToJson(evidence),
      });
    },
  };
}

export interface AwsNitroTpmValidatorOptions {
  readonly policy: AttestationPolicy;
  /** Pinned AK public keys (DER SPKI). Strongly recommended; see the module comment. */
  readonly akKeys?: readonly Uint8Array[];
  readonly now?: () => Date;
}

export function createAwsNitroTpmValidator(opts: AwsNitroTpmValidatorOptions): Validator {
  const akTrust: AkTrust = opts.akKeys?.length
    ? { kind: "keys", spkis: opts.akKeys }
    : { kind: "unconditional", reason: "NitroTPM has no AK certificate; pin AK keys to verify the identity" };
  return {
    variant: "aws-nitro-tpm",
    validate: (document, nonce) =>
      validateVtpmDocument(
        document,
        nonce,
        {
          variant: "aws-nitro-tpm",
          akTrust,
          instanceInfo: "required",
          check: async ({ evidence }) => {
            const raw = evidence.instanceInfo ?? new Uint8Array();
            let parsed: unknown;
            try {
              parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
            } catch (cause) {
              throw new AttestationParseError("INVALID_EVIDENCE", "Cannot parse the EC2 identity document", {
                expected: "JSON",
                cause,
              });
            }
            const r = v.safeParse(IdentityDocumentSchema, parsed);
            if (!r.success) {
              throw new AttestationParseError("INVALID_EVIDENCE", "Cannot parse the EC2 identity document", {
                expected: "{accountId, instanceId, region, imageId}",
              });
            }
            return {
              details: { instance: { ...r.output, signed: false } },
              warnings: ["EC2 identity document is unsigned (bound into the quote, not verified by AWS)"],
            };
          },
        },
        { policy: opts.policy, now: opts.now ?? (() => new Date()) },
      ),
  };
}
