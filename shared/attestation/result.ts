/**
 * The verification result as JSON shaped after IETF EAR (EAT Attestation Results,
 * draft-ietf-rats-ear), so it can later be signed as a JWT/CWT without changing its content.
 *
 * Shape (JSON claim names as in the draft):
 * ```json
 * { "eat_profile": "tag:github.com,2023:veraison/ear", "iat": 1764030000,
 *   "ear.verifier-id": { "developer": "asterism", "build": "asterism 0.1.0" },
 *   "eat_nonce": "<base64url nonce>",
 *   "submods": { "qemu-vtpm": {
 *       "ear.status": "affirming" | "warning" | "contraindicated",
 *       "ear.trustworthiness-vector": { "instance-identity": 2, "hardware": 0, "executables": 2, "configuration": 2 },
 *       "ear.appraisal-policy-id": "…",
 *       "asterism.variant": "qemu-vtpm", "asterism.user-data": "<hex>",
 *       "asterism.measurements": { "4": "<hex>" }, "asterism.tcb": {…}, "asterism.chip-id": "<hex>",
 *       "asterism.instance": {…}, "asterism.warnings": ["…"], "asterism.error": { "code", "message" } } } }
 * ```
 *
 * Trustworthiness values follow the AR4SI tiers (draft-ietf-rats-ar4si §2.3): 0 = no claim,
 * 2 = affirming, 32 = warning, 96 = contraindicated. Our mapping (not a registry):
 * - `instance-identity`: 2 when the attestation key / chip key chains to a trusted root; 0 when the
 *   variant takes the key on faith (qemu-vtpm, aws-nitro-tpm): we make no claim rather than a false one.
 * - `hardware`: 2 when a TEE vendor signature (AMD, Intel) was verified; 0 for TPM-only variants.
 * - `executables`: 2 when every measurement matched; 32 when warn-only measurements differed.
 * - `configuration`: 2 when platform policy checks (TCB, guest policy) passed; 0 when none apply.
 * Any failure yields `ear.status` "contraindicated" with every vector entry 96 for the failed aspect.
 * `ear.status` is the worst tier present in the vector, and "warning" whenever the result carries warnings.
 */
import { toBase64Url, toHex } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import type { VerifiedClaims } from "./interfaces.ts";
import type { Variant } from "./variant.ts";

/** EAR profile identifier used by the draft's JSON examples. */
export const EAR_PROFILE = "tag:github.com,2023:veraison/ear";

/** AR4SI tier values we use. */
export const AR4SI = { NONE: 0, AFFIRMING: 2, WARNING: 32, CONTRAINDICATED: 96 } as const;

/** EAR appraisal status. */
export type EarStatus = "none" | "affirming" | "warning" | "contraindicated";

/** The subset of the AR4SI trustworthiness vector we fill. */
export interface TrustworthinessVector {
  "instance-identity"?: number;
  configuration?: number;
  executables?: number;
  hardware?: number;
}

/** One appraisal (EAR `submods` entry). */
export interface EarAppraisal {
  "ear.status": EarStatus;
  "ear.trustworthiness-vector": TrustworthinessVector;
  "ear.appraisal-policy-id"?: string;
  "asterism.variant": Variant;
  "asterism.user-data"?: string;
  "asterism.measurements"?: Record<string, string>;
  "asterism.tcb"?: unknown;
  "asterism.chip-id"?: string;
  "asterism.instance"?: unknown;
  "asterism.warnings": string[];
  "asterism.error"?: { code: string; message: string; domain?: string };
}

/** The whole result. */
export interface EarResult {
  eat_profile: typeof EAR_PROFILE;
  iat: number;
  "ear.verifier-id": { developer: string; build: string };
  eat_nonce?: string;
  submods: Record<string, EarAppraisal>;
}

/** Facts a validator knows about the strength of what it checked, for the trustworthiness vector. */
export interface AppraisalFacts {
  /** The AK / chip key chains to a trusted root (false: taken on faith). */
  readonly identityTrusted: boolean;
  /** A TEE vendor signature was verified. */
  readonly hardwareVerified: boolean;
  /** Platform policy (TCB, guest policy) was checked and passed. */
  readonly configurationChecked: boolean;
  /** Warn-only measurement mismatches (drives `executables`); absent = count every warning. */
  readonly measurementWarnings?: number;
}

/** Options for {@link toEar}. */
export interface EarOptions {
  readonly now: Date;
  /** e.g. `asterism 0.1.0`. */
  readonly build: string;
  readonly nonce?: Uint8Array;
  readonly policyId?: string;
}

function statusOf(vec: TrustworthinessVector, warnings: number): EarStatus {
  const worst = Math.max(0, ...Object.values(vec).filter((x): x is number => typeof x === "number"));
  if (worst >= AR4SI.CONTRAINDICATED) return "contraindicated";
  // Any warning (e.g. an attestation key taken on faith) keeps the status below "affirming".
  if (worst >= AR4SI.WARNING || (worst >= AR4SI.AFFIRMING && warnings > 0)) return "warning";
  if (worst >= AR4SI.AFFIRMING) return "affirming";
  return "none";
}

function envelope(opts: EarOptions, variant: Variant, appraisal: EarAppraisal): EarResult {
  return {
    eat_profile: EAR_PROFILE,
    iat: Math.floor(opts.now.getTime() / 1000),
    "ear.verifier-id": { developer: "asterism", build: opts.build },
    ...(opts.nonce ? { eat_nonce: toBase64Url(opts.nonce) } : {}),
    submods: { [variant]: appraisal },
  };
}

/** The EAR for evidence that passed validation. */
export function toEar(claims: VerifiedClaims, facts: AppraisalFacts, opts: EarOptions): EarResult {
  const vector: TrustworthinessVector = {
    "instance-identity": facts.identityTrusted ? AR4SI.AFFIRMING : AR4SI.NONE,
    hardware: facts.hardwareVerified ? AR4SI.AFFIRMING : AR4SI.NONE,
    executables: (facts.measurementWarnings ?? claims.warnings.length) > 0 ? AR4SI.WARNING : AR4SI.AFFIRMING,
    configuration: facts.configurationChecked ? AR4SI.AFFIRMING : AR4SI.NONE,
  };
  const d = claims.details;
  const appraisal: EarAppraisal = {
    "ear.status": statusOf(vector, claims.warnings.length),
    "ear.trustworthiness-vector": vector,
    ...(opts.policyId ? { "ear.appraisal-policy-id": opts.policyId } : {}),
    "asterism.variant": claims.variant,
    "asterism.user-data": toHex(claims.userData),
    "asterism.measurements": Object.fromEntries(
      Object.entries(claims.measurements).sort(([a], [b]) => Number(a) - Number(b)),
    ),
    ...(d["tcb"] !== undefined ? { "asterism.tcb": d["tcb"] } : {}),
    ...(typeof d["chipId"] === "string" ? { "asterism.chip-id": d["chipId"] } : {}),
    ...(d["instance"] !== undefined ? { "asterism.instance": d["instance"] } : {}),
    "asterism.warnings": [...claims.warnings],
  };
  return envelope(opts, claims.variant, appraisal);
}

/** The EAR for evidence that was rejected: status contraindicated, with the error's code. */
export function earFromError(variant: Variant, err: unknown, opts: EarOptions): EarResult {
  const error = isAsterismError(err)
    ? { code: err.code, message: err.message, domain: err.domain }
    : { code: "INTERNAL", message: err instanceof Error ? err.message : "unknown failure" };
  // Attribute the failure to the aspect it concerns so a relying party can tell them apart.
  const vector: TrustworthinessVector = {};
  const code = error.code;
  const domain = "domain" in error ? error.domain : undefined;
  if (code === "MEASUREMENT_MISMATCH") vector.executables = AR4SI.CONTRAINDICATED;
  else if (code === "PLATFORM_POLICY" || domain === "snp-policy")
    vector.configuration = AR4SI.CONTRAINDICATED;
  else if (domain === "snp-verify") vector.hardware = AR4SI.CONTRAINDICATED;
  else vector["instance-identity"] = AR4SI.CONTRAINDICATED;
  return envelope(opts, variant, {
    "ear.status": "contraindicated",
    "ear.trustworthiness-vector": vector,
    ...(opts.policyId ? { "ear.appraisal-policy-id": opts.policyId } : {}),
    "asterism.variant": variant,
    "asterism.warnings": [],
    "asterism.error": error,
  });
}
