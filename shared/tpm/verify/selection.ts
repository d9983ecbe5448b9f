import type { PcrBanks } from "../commands/pcr.ts";
import { QuoteVerificationError } from "../errors.ts";
import { digest, type HashInfo, hashInfo } from "../hash.ts";
import type { PcrSelection } from "../structures/basic.ts";

/**
 * The quote's PCR digest: H_sig(PCR values in TPML_PCR_SELECTION order, ascending within a bank), per
 * Part 3 §18.4.1 ("the digest is computed using the hash of the signing scheme").
 */
export function computePcrDigest(
  hash: HashInfo,
  selection: readonly PcrSelection[],
  pcrs: PcrBanks,
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const sel of selection) {
    const bank = pcrs.get(sel.hash);
    for (const i of sel.pcrSelect) {
      const v = bank?.get(i);
      if (!v)
        throw new QuoteVerificationError("PCR_MISSING", "No value supplied for a quoted PCR", {
          expected: `${hashInfo(sel.hash)?.name ?? `0x${sel.hash.toString(16)}`} PCR ${i}`,
        });
      parts.push(v);
    }
  }
  return digest(hash, ...parts);
}

export function selectionKey(sel: readonly PcrSelection[]): string {
  const m = new Map<number, Set<number>>();
  for (const s of sel)
    for (const p of s.pcrSelect) (m.get(s.hash) ?? m.set(s.hash, new Set()).get(s.hash))?.add(p);
  return [...m]
    .filter(([, s]) => s.size)
    .sort(([a], [b]) => a - b)
    .map(([h, s]) => `${h}:${[...s].sort((a, b) => a - b).join(",")}`)
    .join(";");
}

/**
 * True when `pcrs` holds exactly the PCRs `sel` selects: every selected one present and nothing else
 * (a value the quote does not cover must not look authenticated to the caller).
 */
export function suppliedExactly(sel: readonly PcrSelection[], pcrs: PcrBanks): boolean {
  let selected = 0;
  let seenBanks = 0;
  for (const s of sel) {
    if (!s.pcrSelect.length) continue;
    seenBanks++;
    const bank = pcrs.get(s.hash);
    if (!bank) return false;
    for (const p of s.pcrSelect) if (!bank.has(p)) return false;
    selected += s.pcrSelect.length;
  }
  let supplied = 0;
  for (const bank of pcrs.values()) supplied += bank.size;
  // A bank listed twice makes the counts ambiguous: fall back to exact set comparison.
  if (seenBanks > 1 && hasDuplicateBank(sel))
    return sameSelection(
      [...pcrs].map(([h, m]) => ({ hash: h, pcrSelect: [...m.keys()] })),
      sel,
    );
  return supplied === selected;
}

function hasDuplicateBank(sel: readonly PcrSelection[]): boolean {
  for (let i = 0; i < sel.length; i++)
    for (let j = i + 1; j < sel.length; j++)
      if (sel[i]?.hash === sel[j]?.hash && sel[i]?.pcrSelect.length && sel[j]?.pcrSelect.length) return true;
  return false;
}

/** Set equality of two selections (bank → PCR set), ignoring order, duplicates and empty banks. */
export function sameSelection(a: readonly PcrSelection[], b: readonly PcrSelection[]): boolean {
  const toMap = (sel: readonly PcrSelection[]) => {
    const m = new Map<number, Set<number>>();
    for (const s of sel) {
      if (!s.pcrSelect.length) continue;
      let set = m.get(s.hash);
      if (!set) {
        set = new Set();
        m.set(s.hash, set);
      }
      for (const p of s.pcrSelect) set.add(p);
    }
    return m;
  };
  const ma = toMap(a);
  const mb = toMap(b);
  if (ma.size !== mb.size) return false;
  for (const [h, sa] of ma) {
    const sb = mb.get(h);
    if (!sb || sb.size !== sa.size) return false;
    for (const p of sa) if (!sb.has(p)) return false;
  }
  return true;
}

export function computeMissing(sel: readonly PcrSelection[], pcrs: PcrBanks): boolean {
  return sel.some((s) => s.pcrSelect.some((i) => !pcrs.get(s.hash)?.has(i)));
}
