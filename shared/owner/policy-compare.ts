/** Comparing parsed attestation policies by what they enforce, not how they were spelled. */
import type { AttestationPolicy } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { measurementsToJson } from "@asterism/measurements";
import { canonicalJson } from "./canonical-json.ts";

/**
 * A canonical string of a parsed policy (variants, measurements, SNP settings after defaults), so two
 * spellings of one policy compare equal and any difference in what is enforced does not.
 */
export function policyFingerprint(p: AttestationPolicy): string {
  const plain = JSON.parse(
    JSON.stringify(
      {
        variants: p.variants ? [...p.variants].sort() : null,
        measurements: measurementsToJson(p.measurements),
        snp: p.snp ?? null,
      },
      (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : typeof v === "bigint" ? v.toString() : v),
    ),
  ) as unknown;
  return canonicalJson(plain);
}

/** Do two parsed policies enforce the same thing? */
export function samePolicy(a: AttestationPolicy, b: AttestationPolicy): boolean {
  return policyFingerprint(a) === policyFingerprint(b);
}
