import {
  bytes,
  type Codec,
  empty,
  type Infer,
  list,
  refine,
  sized,
  struct,
  transform,
  u8,
  u16,
  u32,
  u64,
  union,
} from "@asterism/codec";
import { HASH_COUNT_MAX, MAX_DIGEST_SIZE, PCR_SELECT_MAX, TPM_ALG } from "../constants.ts";
import { DIGEST_SIZES } from "../hash.ts";

/** Part 2 §10.4.2 "TPM2B_DIGEST": `size` ≤ sizeof(TPMU_HA), then the digest. */
export const TPM2B_DIGEST = sized(u16, { max: MAX_DIGEST_SIZE, name: "TPM2B_DIGEST" });

/** Part 2 §10.4.3 "TPM2B_DATA": ≤ sizeof(TPMT_HA) (2 + 64). Carries quote nonces (extraData). */
export const TPM2B_DATA = sized(u16, { max: 2 + MAX_DIGEST_SIZE, name: "TPM2B_DATA" });

/** Part 2 §10.4.4 "TPM2B_NONCE": a TPM2B_DIGEST. */
export const TPM2B_NONCE = sized(u16, { max: MAX_DIGEST_SIZE, name: "TPM2B_NONCE" });

/** Part 2 §10.4.5 "TPM2B_AUTH": a TPM2B_DIGEST. */
export const TPM2B_AUTH = sized(u16, { max: MAX_DIGEST_SIZE, name: "TPM2B_AUTH" });

/** Part 2 §10.5.3 "TPM2B_NAME": ≤ sizeof(TPMU_NAME) = 2 + 64 (a digest) or 4 (a handle). */
export const TPM2B_NAME = sized(u16, { max: 2 + MAX_DIGEST_SIZE, name: "TPM2B_NAME" });

/** Part 2 §9.2 "TPMI_YES_NO": 0 or 1 only. */
export const TPMI_YES_NO = refine(u8, (v) => v === 0 || v === 1, "0 or 1", "TPMI_YES_NO");

/**
 * Part 2 §9.27 "TPMI_ALG_HASH": a hash algorithm whose digest size we know (SHA-1/256/384/512, SM3).
 * Anything else (including TPM_ALG_NULL) is rejected where this type is used.
 */
export const TPMI_ALG_HASH = refine(
  u16,
  (v) => DIGEST_SIZES.has(v),
  "a known hash algorithm",
  "TPMI_ALG_HASH",
);

/**
 * Part 2 §9.27 "+TPMI_ALG_HASH" (the `+` form): a known hash algorithm or TPM_ALG_NULL, as a TPMT_PUBLIC's
 * nameAlg may be. Reserved and non-hash algorithm IDs are rejected: the fuzz campaign found 0x800B accepted
 * as an AK's nameAlg (docs/fuzzing.md).
 */
export const TPMI_ALG_HASH_OR_NULL = refine(
  u16,
  (v) => DIGEST_SIZES.has(v) || v === TPM_ALG.NULL,
  "a known hash algorithm or TPM_ALG_NULL",
  "+TPMI_ALG_HASH",
);

/**
 * Part 2 §10.3.2 "TPMT_HA": table 80.
 * | hashAlg | +TPMI_ALG_HASH |
 * | digest  | [hashAlg] TPMU_HA |
 */
export const TPMT_HA = struct("TPMT_HA", {
  hashAlg: TPMI_ALG_HASH,
  digest: union(
    "hashAlg",
    Object.fromEntries([...DIGEST_SIZES].map(([alg, size]) => [alg, bytes(size)])) as Record<
      number,
      Codec<Uint8Array>
    >,
    "TPMU_HA",
  ),
});
export type TPMT_HA = Infer<typeof TPMT_HA>;

/** Part 2 §10.9.7 "TPML_DIGEST_VALUES": count ≤ HASH_COUNT, then TPMT_HA values (PCR_Extend input). */
export const TPML_DIGEST_VALUES = list(u32, TPMT_HA, { max: HASH_COUNT_MAX, name: "TPML_DIGEST_VALUES" });

/** Part 2 §10.9.2 "TPML_DIGEST": count ≤ 8, then TPM2B_DIGEST values (PCR_Read output). */
export const TPML_DIGEST = list(u32, TPM2B_DIGEST, { max: 8, name: "TPML_DIGEST" });

/**
 * Part 2 §10.6.2 "TPMS_PCR_SELECTION": table 94.
 * | hash         | TPMI_ALG_HASH |
 * | sizeofSelect | UINT8  (≥ PCR_SELECT_MIN) |
 * | pcrSelect    | BYTE[sizeofSelect]: bit n of byte i selects PCR 8·i + n |
 *
 * Held in memory as the sorted list of selected PCR indices; serialization uses the minimum 3 bytes
 * (24 PCRs) or more when a higher PCR is selected.
 */
export const TPMS_PCR_SELECTION: Codec<PcrSelection> = struct("TPMS_PCR_SELECTION", {
  hash: u16,
  pcrSelect: transform(sized(u8, { max: PCR_SELECT_MAX, name: "pcrSelect" }), bitmapToPcrs, pcrsToBitmap),
});

/** One bank's selected PCRs, indices ascending. */
export interface PcrSelection {
  /** TPM_ALG_ID of the bank (not restricted to known hashes, so unknown banks still parse). */
  readonly hash: number;
  readonly pcrSelect: readonly number[];
}

/** Part 2 §10.9.7 "TPML_PCR_SELECTION": count ≤ HASH_COUNT, then TPMS_PCR_SELECTION. */
export const TPML_PCR_SELECTION = list(u32, TPMS_PCR_SELECTION, {
  max: HASH_COUNT_MAX,
  name: "TPML_PCR_SELECTION",
});

function bitmapToPcrs(map: Uint8Array): number[] {
  const out: number[] = [];
  map.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) out.push(i * 8 + bit);
  });
  return out;
}

function pcrsToBitmap(pcrs: readonly number[]): Uint8Array {
  const max = pcrs.reduce((m, p) => Math.max(m, p), 0);
  const out = new Uint8Array(Math.max(3, Math.floor(max / 8) + 1));
  for (const p of pcrs) {
    if (!Number.isInteger(p) || p < 0 || p >= PCR_SELECT_MAX * 8) throw new RangeError(`PCR index ${p}`);
    out[p >> 3] = (out[p >> 3] ?? 0) | (1 << (p & 7));
  }
  return out;
}

/**
 * Part 2 §10.11.1 "TPMS_CLOCK_INFO": table 120.
 * | clock | UINT64 | resetCount | UINT32 | restartCount | UINT32 | safe | TPMI_YES_NO |
 */
export const TPMS_CLOCK_INFO = struct("TPMS_CLOCK_INFO", {
  clock: u64,
  resetCount: u32,
  restartCount: u32,
  safe: TPMI_YES_NO,
});

/** Part 2 §11.1.19 TPMS_SCHEME_HASH: `hashAlg`. Used by every hash-parameterised scheme. */
export const TPMS_SCHEME_HASH = struct("TPMS_SCHEME_HASH", { hashAlg: u16 });

/** The TPM_ALG_NULL arm of unions. */
export const NULL_ARM = { [TPM_ALG.NULL]: empty } as const;
