/**
 * The evidence of every vTPM-based variant, as carried in the document's `evidence` member.
 *
 * ```json
 * { "akPublic": "<b64 TPMT_PUBLIC>",
 *   "quotes": [ { "attest": "<b64 TPMS_ATTEST>", "signature": "<b64 TPMT_SIGNATURE>",
 *                 "pcrs": { "hash": "sha256", "values": { "0": "<hex>", "1": "<hex>", … } } } ],
 *   "eventLog": "<b64 TCG PC Client crypto-agile log>",          // optional
 *   "akCert": "<b64 DER>", "intermediates": ["<b64 DER>"],      // optional (GCP)
 *   "instanceInfo": "<b64 variant-specific bytes>" }             // optional, hashed into the quote
 * ```
 *
 * This mirrors go-tpm-tools' `attest.Attestation` (reference §5.1) with our own field names; one quote per
 * PCR bank. Every binary field is bounded here, before any crypto runs.
 */
import { fromHex } from "@asterism/bytes";
import * as v from "valibot";
import { decodeBase64Field, schemaError } from "../document.ts";
import { AttestationParseError } from "../errors.ts";

/** At most one quote per bank we know (sha1, sha256, sha384, sha512). */
export const MAX_QUOTES = 4;
/** PC Client TPMs have 24 PCRs per bank. */
export const MAX_PCRS_PER_BANK = 24;
/** Firmware event logs are tens of KiB; 512 KiB (as base64 ≈ 700 KB) leaves room without unbounded input. */
export const MAX_EVENT_LOG_BYTES = 512 * 1024;
/** TPMS_ATTEST and TPMT_SIGNATURE are well under 1 KiB; TPMT_PUBLIC too. */
export const MAX_TPM_STRUCTURE_BYTES = 4096;
/** Instance info (GCE JSON, EC2 identity document, SNP report + certs) fits in 64 KiB. */
export const MAX_INSTANCE_INFO_BYTES = 64 * 1024;
/** AK certificate chain: leaf + a few intermediates. */
export const MAX_INTERMEDIATES = 4;

const B64 = v.pipe(v.string(), v.maxLength(Math.ceil((MAX_EVENT_LOG_BYTES * 4) / 3) + 4));

/** Bank names as go-tpm-tools and tpm2-tools use them. */
export type PcrBankName = "sha1" | "sha256" | "sha384" | "sha512";

const BANK_SIZES: Readonly<Record<PcrBankName, number>> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** JSON schema of the vTPM evidence. */
export const VtpmEvidenceSchema = v.strictObject({
  akPublic: B64,
  quotes: v.pipe(
    v.array(
      v.strictObject({
        attest: B64,
        signature: B64,
        pcrs: v.strictObject({
          hash: v.picklist(["sha1", "sha256", "sha384", "sha512"]),
          values: v.record(v.string(), v.pipe(v.string(), v.maxLength(128))),
        }),
      }),
    ),
    v.minLength(1),
    v.maxLength(MAX_QUOTES),
  ),
  eventLog: v.optional(B64),
  akCert: v.optional(B64),
  intermediates: v.optional(v.pipe(v.array(B64), v.maxLength(MAX_INTERMEDIATES))),
  instanceInfo: v.optional(B64),
});

/** One quote, decoded (still unauthenticated). */
export interface VtpmQuote {
  readonly attest: Uint8Array;
  readonly signature: Uint8Array;
  readonly bank: PcrBankName;
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
}

/** The decoded evidence (still unauthenticated). */
export interface VtpmEvidence {
  readonly akPublic: Uint8Array;
  readonly quotes: readonly VtpmQuote[];
  readonly eventLog?: Uint8Array;
  readonly akCert?: Uint8Array;
  readonly intermediates: readonly Uint8Array[];
  readonly instanceInfo?: Uint8Array;
}

const ACTION = "Cannot parse vTPM evidence";

function bounded(field: string, b64: string, max: number): Uint8Array {
  const b = decodeBase64Field(`evidence.${field}`, b64);
  if (b.length > max) {
    throw new AttestationParseError("TOO_LARGE", `${ACTION}: ${field}`, {
      expected: `at most ${max} bytes`,
      actual: `${b.length} bytes`,
    });
  }
  return b;
}

function pcrIndex(key: string): number {
  if (!/^(?:[0-9]|1[0-9]|2[0-3])$/.test(key)) {
    throw new AttestationParseError("INVALID_SCHEMA", `${ACTION}: PCR index`, {
      expected: `0..${MAX_PCRS_PER_BANK - 1}`,
      actual: JSON.stringify(key.slice(0, 8)),
    });
  }
  return Number(key);
}

/** Validate and decode the `evidence` member of a vTPM document. */
export function parseVtpmEvidence(evidence: unknown): VtpmEvidence {
  const r = v.safeParse(VtpmEvidenceSchema, evidence);
  if (!r.success)
    throw schemaError(ACTION, "{akPublic, quotes[], eventLog?, akCert?, intermediates?}", r.issues);
  const e = r.output;
  const seen = new Set<string>();
  const quotes = e.quotes.map((q, i) => {
    if (seen.has(q.pcrs.hash)) {
      throw new AttestationParseError("INVALID_SCHEMA", `${ACTION}: quotes[${i}]`, {
        expected: "one quote per PCR bank",
        actual: `second ${q.pcrs.hash} quote`,
      });
    }
    seen.add(q.pcrs.hash);
    const size = BANK_SIZES[q.pcrs.hash];
    const pcrs = new Map<number, Uint8Array>();
    for (const [key, hex] of Object.entries(q.pcrs.values)) {
      let value: Uint8Array;
      try {
        value = fromHex(hex);
      } catch (cause) {
        throw new AttestationParseError("INVALID_ENCODING", `${ACTION}: quotes[${i}] PCR ${key}`, {
          expected: "hex",
          cause,
        });
      }
      if (value.length !== size) {
        throw new AttestationParseError("INVALID_LENGTH", `${ACTION}: quotes[${i}] PCR ${key}`, {
          expected: `${size} bytes (${q.pcrs.hash})`,
          actual: `${value.length} bytes`,
        });
      }
      pcrs.set(pcrIndex(key), value);
    }
    return {
      attest: bounded(`quotes[${i}].attest`, q.attest, MAX_TPM_STRUCTURE_BYTES),
      signature: bounded(`quotes[${i}].signature`, q.signature, MAX_TPM_STRUCTURE_BYTES),
      bank: q.pcrs.hash,
      pcrs: new Map([...pcrs].sort(([a], [b]) => a - b)),
    };
  });
  return {
    akPublic: bounded("akPublic", e.akPublic, MAX_TPM_STRUCTURE_BYTES),
    quotes,
    ...(e.eventLog !== undefined ? { eventLog: bounded("eventLog", e.eventLog, MAX_EVENT_LOG_BYTES) } : {}),
    ...(e.akCert !== undefined ? { akCert: bounded("akCert", e.akCert, MAX_TPM_STRUCTURE_BYTES * 4) } : {}),
    intermediates: (e.intermediates ?? []).map((c, i) =>
      bounded(`intermediates[${i}]`, c, MAX_TPM_STRUCTURE_BYTES * 4),
    ),
    ...(e.instanceInfo !== undefined
      ? { instanceInfo: bounded("instanceInfo", e.instanceInfo, MAX_INSTANCE_INFO_BYTES) }
      : {}),
  };
}

/** The JSON form of decoded evidence (what issuers put into the document). */
export function vtpmEvidenceToJson(e: VtpmEvidence): Record<string, unknown> {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
  return {
    akPublic: b64(e.akPublic),
    quotes: e.quotes.map((q) => ({
      attest: b64(q.attest),
      signature: b64(q.signature),
      pcrs: {
        hash: q.bank,
        values: Object.fromEntries(
          [...q.pcrs].map(([i, val]) => [String(i), Buffer.from(val).toString("hex")]),
        ),
      },
    })),
    ...(e.eventLog ? { eventLog: b64(e.eventLog) } : {}),
    ...(e.akCert ? { akCert: b64(e.akCert) } : {}),
    ...(e.intermediates.length ? { intermediates: e.intermediates.map(b64) } : {}),
    ...(e.instanceInfo ? { instanceInfo: b64(e.instanceInfo) } : {}),
  };
}
