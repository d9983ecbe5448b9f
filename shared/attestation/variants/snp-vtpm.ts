/**
 * The SNP-based vTPM variants: `aws-sev-snp`, `azure-sev-snp` and `gcp-sev-snp` (reference §5.2).
 * Each carries a vTPM quote (PCR measurements) plus an AMD-signed SEV-SNP report in `instanceInfo`, which
 * is hashed into the quote's qualifying data. What differs is how the report vouches for the AK:
 *
 * | variant | REPORT_DATA | AK trust |
 * |---|---|---|
 * | aws-sev-snp | SHA-512(AK SubjectPublicKeyInfo DER) | the report (VLEK-signed) names the AK |
 * | azure-sev-snp | SHA-256(HCL runtime data) ‖ 0³² | runtime data key "HCLAkPub" (n, e) = the AK |
 * | gcp-sev-snp | extraData ‖ 0³² | AK certificate → Google EK/AK CA (as gcp-sev-es) |
 *
 * Beyond Constellation: the launch MEASUREMENT, TCB minimums, ID keys etc. come from `policy.snp` and
 * are checked by @asterism/sev-snp; Genoa and Turin are accepted, not just Milan. Caveats kept: on AWS
 * the NitroTPM runs outside the TEE (its PCRs are hypervisor-trusted, the report only vouches for the
 * AK), and Azure's `maaFallback` ID-key policy needs the network and is not supported (use `equal` or
 * `warnOnly` in `policy.snp.idKeyDigests`).
 */
import { createHash } from "node:crypto";
import { concat, constantTimeEqual, fromBase64Url, toHex } from "@asterism/bytes";
import { createSnpVerifier, parseSnpPolicy, type SnpPolicy } from "@asterism/sev-snp";
import { rsaParams, type TPMT_PUBLIC } from "@asterism/tpm";
import * as v from "valibot";
import { serializeAttestationDocument } from "../document.ts";
import { AttestationParseError, AttestationPolicyError, AttestationVerifyError } from "../errors.ts";
import type { Issuer, Validator } from "../interfaces.ts";
import type { AttestationPolicy } from "../policy.ts";
import type { Variant } from "../variant.ts";
import type { AkCertTrust } from "../vtpm/ak-cert.ts";
import { akSpki } from "../vtpm/ak-key.ts";
import { vtpmEvidenceToJson } from "../vtpm/evidence.ts";
import { issueVtpmEvidence, type VtpmIssuerDeps } from "../vtpm/issue.ts";
import {
  checkSnpReport,
  parseSnpInstanceInfo,
  type SnpInstanceInfo,
  type SnpTrust,
  serializeSnpInstanceInfo,
} from "../vtpm/snp-instance.ts";
import { type VtpmVariantSpec, validateVtpmDocument } from "../vtpm/validate.ts";
import { checkGceIdentity, checkGceMachineState } from "./gcp.ts";

/** Options of the SNP-based validators. */
export interface SnpVtpmValidatorOptions {
  readonly policy: AttestationPolicy;
  readonly now?: () => Date;
  /** AMD roots (default built-in) or a shared verifier. */
  readonly snpTrust?: SnpTrust;
  /** Google EK/AK CA (gcp-sev-snp only). */
  readonly akTrust?: AkCertTrust;
}

const sha512 = (b: Uint8Array) => new Uint8Array(createHash("sha512").update(b).digest());
const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

function snpInfo(bytes: Uint8Array | undefined): SnpInstanceInfo {
  if (bytes === undefined) {
    throw new AttestationParseError("INVALID_SCHEMA", "Cannot parse SNP evidence", {
      expected: "instanceInfo with the SNP report",
      actual: "none",
    });
  }
  return parseSnpInstanceInfo(bytes);
}

function snpPolicy(policy: AttestationPolicy, defaults: Partial<SnpPolicy>): SnpPolicy {
  const base = policy.snp ?? parseSnpPolicy({});
  return {
    ...base,
    ...Object.fromEntries(Object.entries(defaults).filter(([k]) => base[k as keyof SnpPolicy] === undefined)),
  };
}

function validator(
  variant: Variant,
  opts: SnpVtpmValidatorOptions,
  spec: Omit<VtpmVariantSpec, "variant">,
): Validator {
  return {
    variant,
    validate: (document, nonce) =>
      validateVtpmDocument(
        document,
        nonce,
        { variant, ...spec },
        { policy: opts.policy, now: opts.now ?? (() => new Date()) },
      ),
  };
}

/** One SNP verifier per validator, so its verified-chain cache serves every validation. */
function snpTrustOf(opts: SnpVtpmValidatorOptions): SnpTrust {
  if (opts.snpTrust?.verifier) return opts.snpTrust;
  const roots = opts.snpTrust?.trustedRoots;
  return { verifier: createSnpVerifier(roots ? { trustedRoots: roots } : {}) };
}

/** `aws-sev-snp`: REPORT_DATA = SHA-512(AK SPKI); VLEK-signed by default. */
export function createAwsSevSnpValidator(opts: SnpVtpmValidatorOptions): Validator {
  const now = opts.now ?? (() => new Date());
  const snpTrust = snpTrustOf(opts);
  return validator("aws-sev-snp", opts, {
    akTrust: { kind: "unconditional", reason: "AK must be named by the SNP report" },
    instanceInfo: "required",
    check: async ({ evidence, verified }) => {
      const info = snpInfo(evidence.instanceInfo);
      const snp = await checkSnpReport(
        info,
        snpTrust,
        snpPolicy(opts.policy, { signer: "vlek" }),
        sha512(verified.akSpki),
        now(),
      );
      return {
        details: { snp: snp.claims, tcb: snp.claims.tcb },
        warnings: [...snp.warnings, "NitroTPM PCRs are measured outside the TEE (hypervisor-trusted)"],
        hardwareVerified: true,
        configurationChecked: true,
        identityTrusted: true,
      };
    },
  });
}

/** The Azure HCL runtime data: only what we check (`keys[].kid/kty/n/e`). */
const RuntimeDataSchema = v.object({
  keys: v.pipe(
    v.array(
      v.object({
        kid: v.optional(v.string()),
        kty: v.string(),
        n: v.optional(v.string()),
        e: v.optional(v.string()),
      }),
    ),
    v.minLength(1),
    v.maxLength(16),
  ),
});

/** Name of the HCL attestation key in the runtime data. */
export const HCL_AK_KID = "HCLAkPub";

/**
 * Check that the runtime data's "HCLAkPub" RSA key is the TPM AK (reference §5.2, HCL AK check).
 * Constellation takes `keys[0]` without looking at `kid` and reads `e` little-endian (which only agrees
 * with RFC 7518's big-endian for palindromic exponents such as AQAB); we select by `kid` and read `e` as
 * RFC 7518 says. A TPM exponent of 0 means 65537.
 */
export function checkHclAkBinding(runtimeData: Uint8Array, ak: TPMT_PUBLIC): void {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(runtimeData));
  } catch (cause) {
    throw new AttestationParseError("INVALID_EVIDENCE", "Cannot parse the HCL runtime data", {
      expected: "JSON",
      cause,
    });
  }
  const r = v.safeParse(RuntimeDataSchema, value);
  if (!r.success) {
    throw new AttestationParseError("INVALID_EVIDENCE", "Cannot parse the HCL runtime data", {
      expected: "{keys: [{kid, kty, n, e}]}",
    });
  }
  const key = r.output.keys.find((k) => k.kid === HCL_AK_KID);
  const rsa = rsaParams(ak);
  if (key?.kty !== "RSA" || key.n === undefined || key.e === undefined || !rsa) {
    throw new AttestationVerifyError(
      "AK_MISMATCH",
      "The runtime data does not name an RSA AK matching the TPM AK",
      {
        expected: `an RSA key with kid ${HCL_AK_KID} and an RSA TPM AK`,
      },
    );
  }
  let n: Uint8Array;
  let eBytes: Uint8Array;
  try {
    n = fromBase64Url(key.n);
    eBytes = fromBase64Url(key.e);
  } catch (cause) {
    throw new AttestationParseError("INVALID_EVIDENCE", "Cannot decode the HCL AK", { cause });
  }
  let e = 0;
  for (const b of eBytes.subarray(0, 8)) e = e * 256 + b;
  const tpmE = rsa.parms.exponent === 0 ? 65537 : rsa.parms.exponent;
  if (eBytes.length > 4 || e !== tpmE || !constantTimeEqual(n, rsa.modulus)) {
    throw new AttestationVerifyError("AK_MISMATCH", "The runtime data's AK is not the TPM AK", {
      expected: `n = TPM modulus (${rsa.modulus.length} bytes), e = ${tpmE}`,
      actual: `n ${n.length} bytes${constantTimeEqual(n, rsa.modulus) ? " (equal)" : " (different)"}, e = ${e}`,
    });
  }
}

/** `azure-sev-snp`: REPORT_DATA = SHA-256(runtime data) ‖ 0³², runtime data names the AK; VCEK by default. */
export function createAzureSevSnpValidator(opts: SnpVtpmValidatorOptions): Validator {
  const now = opts.now ?? (() => new Date());
  const snpTrust = snpTrustOf(opts);
  return validator("azure-sev-snp", opts, {
    akTrust: { kind: "unconditional", reason: "AK must be named by the HCL runtime data" },
    instanceInfo: "required",
    check: async ({ evidence, verified }) => {
      const info = snpInfo(evidence.instanceInfo);
      if (info.runtimeData === undefined) {
        throw new AttestationParseError("INVALID_SCHEMA", "Cannot parse azure-sev-snp evidence", {
          expected: "instanceInfo.runtimeData (HCL runtime data)",
          actual: "none",
        });
      }
      const reportData = concat(sha256(info.runtimeData), new Uint8Array(32));
      const snp = await checkSnpReport(
        info,
        snpTrust,
        snpPolicy(opts.policy, { signer: "vcek" }),
        reportData,
        now(),
      );
      checkHclAkBinding(info.runtimeData, verified.ak);
      return {
        details: { snp: snp.claims, tcb: snp.claims.tcb, chipId: snp.claims.chipId },
        warnings: snp.warnings,
        hardwareVerified: true,
        configurationChecked: true,
        identityTrusted: true,
      };
    },
  });
}

/** Technologies accepted for gcp-sev-snp. */
export const GCP_SEV_SNP_TECHNOLOGIES = ["AMD_SEV_SNP"] as const;

/** `gcp-sev-snp`: gcp-sev-es's AK certificate and machine state, plus REPORT_DATA = extraData ‖ 0³². */
export function createGcpSevSnpValidator(opts: SnpVtpmValidatorOptions): Validator {
  const now = opts.now ?? (() => new Date());
  const snpTrust = snpTrustOf(opts);
  const trust = opts.akTrust;
  if (!trust || trust.roots.length === 0) {
    // Same rule as gcp-sev-es: without Google's roots there is no AK trust.
    throw new AttestationPolicyError("TRUST_NOT_CONFIGURED", "Cannot validate gcp-sev-snp documents", {
      expected: "Google EK/AK CA roots (akTrust.roots)",
      actual: "none configured",
    });
  }
  return validator("gcp-sev-snp", opts, {
    akTrust: { kind: "certificate", trust },
    instanceInfo: "required",
    check: async ({ evidence, verified, extraData }) => {
      const info = snpInfo(evidence.instanceInfo);
      const instance = checkGceIdentity({ ...evidence, instanceInfo: undefined }, verified);
      const machineState = checkGceMachineState(verified, GCP_SEV_SNP_TECHNOLOGIES);
      const snp = await checkSnpReport(
        info,
        snpTrust,
        snpPolicy(opts.policy, { signer: "vcek" }),
        concat(extraData, new Uint8Array(32)),
        now(),
      );
      return {
        details: { instance, machineState, snp: snp.claims, tcb: snp.claims.tcb, chipId: snp.claims.chipId },
        warnings: snp.warnings,
        hardwareVerified: true,
        configurationChecked: true,
      };
    },
  });
}

/** What an SNP guest device returns for a REPORT_DATA (e.g. /dev/sev-guest extended report). */
export type SnpReportSource = (reportData: Uint8Array) => Promise<Omit<SnpInstanceInfo, "runtimeData">>;

/** `aws-sev-snp` issuer: quote + an SNP report whose REPORT_DATA is SHA-512(AK SPKI). */
export function createAwsSevSnpIssuer(
  deps: VtpmIssuerDeps & { readonly snpReport: SnpReportSource },
): Issuer {
  return {
    variant: "aws-sev-snp",
    async issue(userData, nonce) {
      const evidence = await issueVtpmEvidence(deps, userData, nonce, async (ak) =>
        serializeSnpInstanceInfo(await deps.snpReport(sha512(akSpki(ak)))),
      );
      return serializeAttestationDocument({
        variant: "aws-sev-snp",
        userData,
        nonce,
        evidence: vtpmEvidenceToJson(evidence),
      });
    },
  };
}

/** Exposed for tests and tools: hex of the AWS binding for an AK. */
export function awsReportDataFor(ak: TPMT_PUBLIC): string {
  return toHex(sha512(akSpki(ak)));
}
