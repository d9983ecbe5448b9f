import { fromHex, toHex } from "@asterism/bytes";
import * as v from "valibot";
import type { PcrBanks } from "./commands/pcr.ts";
import { hashInfo } from "./hash.ts";

const HEX_DIGEST = /^(?:[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{96}|[0-9a-f]{128})$/i;

/**
 * PCR values as JSON, the shape tpm2-tools, go-tpm-tools and our CLI use:
 * `{ "sha256": { "0": "<hex>", … }, "sha1": { … } }`. PCR indices 0–23; each value's length must match
 * its bank (checked by {@link pcrBanksFromJson}).
 */
export const PcrBanksJsonSchema = v.record(
  v.picklist(["sha1", "sha256", "sha384", "sha512"]),
  v.record(v.pipe(v.string(), v.regex(/^(?:[0-9]|1[0-9]|2[0-3])$/)), v.pipe(v.string(), v.regex(HEX_DIGEST))),
);
export type PcrBanksJson = v.InferOutput<typeof PcrBanksJsonSchema>;

/** Validate and convert PCR JSON; throws valibot's ValiError on any shape or length problem. */
export function pcrBanksFromJson(json: unknown): PcrBanks {
  const parsed = v.parse(
    v.pipe(
      PcrBanksJsonSchema,
      v.check(
        (o) =>
          Object.entries(o).every(([bank, pcrs]) =>
            Object.values(pcrs).every((hex) => hex.length === 2 * (hashInfo(bank)?.size ?? 0)),
          ),
        "PCR value length does not match its bank",
      ),
    ),
    json,
  );
  const out: PcrBanks = new Map();
  for (const [bank, pcrs] of Object.entries(parsed)) {
    const h = hashInfo(bank);
    if (h) out.set(h.alg, new Map(Object.entries(pcrs).map(([i, hex]) => [Number(i), fromHex(hex)])));
  }
  return out;
}

/** PCR values to JSON (banks by name, indices ascending, lowercase hex). */
export function pcrBanksToJson(banks: PcrBanks): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [alg, pcrs] of banks)
    out[hashInfo(alg)?.name ?? `0x${alg.toString(16)}`] = Object.fromEntries(
      [...pcrs].sort(([a], [b]) => a - b).map(([i, val]) => [String(i), toHex(val)]),
    );
  return out;
}
