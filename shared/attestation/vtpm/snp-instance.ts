/**
 * The SEV-SNP part of the SNP-based vTPM variants (gcp-sev-snp, aws-sev-snp, azure-sev-snp): an AMD-signed
 * attestation report (plus the VCEK/VLEK and optionally ASK/ASVK) carried as the evidence's
 * `instanceInfo`. Because instanceInfo is hashed into the TPM quote's qualifying data
 * (SHA-256(instanceInfo ‖ extraData)), the report is bound to the quote and to this exchange.
 *
 * ```json
 * { "report": "<b64 ATTESTATION_REPORT, 0x4A0 bytes>", "endorsementKey": "<b64 VCEK/VLEK, DER or PEM>",
 *   "chain": "<b64 PEM: ASK or ASVK (an ARK in it is never trusted)>", "runtimeData": "<b64 Azure HCL JSON>" }
 * ```
 */
import { toHex } from "@asterism/bytes";
import {
  type AmdTrustRoots,
  createSnpVerifier,
  type SnpPolicy,
  type SnpVerifier,
  snpClaims,
  type VerifiedSnpReport,
  validateSnpReport,
} from "@asterism/sev-snp";
import * as v from "valibot";
import { decodeBase64Field, schemaError } from "../document.ts";
import { AttestationParseError } from "../errors.ts";

/** JSON schema of the SNP instance info. */
export const SnpInstanceInfoSchema = v.strictObject({
  report: v.pipe(v.string(), v.maxLength(4096)),
  endorsementKey: v.pipe(v.string(), v.maxLength(16384)),
  chain: v.optional(v.pipe(v.string(), v.maxLength(32768))),
  runtimeData: v.optional(v.pipe(v.string(), v.maxLength(16384))),
});

/** Decoded SNP instance info (unauthenticated until verified). */
export interface SnpInstanceInfo {
  readonly report: Uint8Array;
  readonly endorsementKey: Uint8Array;
  readonly chain?: Uint8Array;
  readonly runtimeData?: Uint8Array;
}

const ACTION = "Cannot parse SNP instance info";

/** Parse instance-info bytes (UTF-8 JSON). */
export function parseSnpInstanceInfo(bytes: Uint8Array): SnpInstanceInfo {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new AttestationParseError("INVALID_EVIDENCE", ACTION, { expected: "UTF-8 JSON", cause });
  }
  const r = v.safeParse(SnpInstanceInfoSchema, value);
  if (!r.success) throw schemaError(ACTION, "{report, endorsementKey, chain?, runtimeData?}", r.issues);
  const o = r.output;
  return {
    report: decodeBase64Field("instanceInfo.report", o.report),
    endorsementKey: decodeBase64Field("instanceInfo.endorsementKey", o.endorsementKey),
    ...(o.chain !== undefined ? { chain: decodeBase64Field("instanceInfo.chain", o.chain) } : {}),
    ...(o.runtimeData !== undefined
      ? { runtimeData: decodeBase64Field("instanceInfo.runtimeData", o.runtimeData) }
      : {}),
  };
}

/** Serialize instance info (what issuers hash into the quote). */
export function serializeSnpInstanceInfo(i: SnpInstanceInfo): Uint8Array {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  return new TextEncoder().encode(
    JSON.stringify({
      report: b64(i.report),
      endorsementKey: b64(i.endorsementKey),
      ...(i.chain ? { chain: b64(i.chain) } : {}),
      ...(i.runtimeData ? { runtimeData: b64(i.runtimeData) } : {}),
    }),
  );
}

/** SNP trust configuration of a validator. */
export interface SnpTrust {
  /** AMD roots by product (default: the built-in AMD ARK/ASK/ASVK). */
  readonly trustedRoots?: AmdTrustRoots;
  /** Reuse a verifier (and its chain cache) across validators. */
  readonly verifier?: SnpVerifier;
}

/** Verify the report (authenticity) then validate it against `policy` with the variant's binding set. */
export async function checkSnpReport(
  info: SnpInstanceInfo,
  trust: SnpTrust,
  policy: SnpPolicy,
  reportData: Uint8Array,
  now: Date,
): Promise<{ verified: VerifiedSnpReport; warnings: string[]; claims: ReturnType<typeof snpClaims> }> {
  const verifier =
    trust.verifier ?? createSnpVerifier(trust.trustedRoots ? { trustedRoots: trust.trustedRoots } : {});
  // Only the first 0x4A0 bytes are the report; Azure's HCL trailer may follow. The verifier's parser is
  // strict about size, so cut here: the trailer is not signed and is ignored.
  const report = info.report.length > 0x4a0 ? info.report.subarray(0, 0x4a0) : info.report;
  const verified = await verifier.verify(
    { report, endorsementKey: info.endorsementKey, ...(info.chain ? { chain: info.chain } : {}) },
    { now },
  );
  const result = validateSnpReport(verified, { ...policy, reportData });
  const first = result.failures[0];
  if (first) throw first;
  const warnings = [...result.warnings];
  if (policy.measurement === undefined) warnings.push("SNP launch measurement not checked (policy has none)");
  return { verified, warnings, claims: snpClaims(verified, result) };
}

/** Hex of a report's REPORT_DATA (for messages). */
export function reportDataHex(v: VerifiedSnpReport): string {
  return toHex(v.report.reportData);
}
