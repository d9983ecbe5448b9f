/**
 * AMD EPYC product lines that run SEV-SNP. The product selects the TCB_VERSION layout, the AMD root keys and
 * the KDS URL path.
 */
export type Product = "milan" | "genoa" | "turin";

/** All products, in release order. */
export const PRODUCTS: readonly Product[] = ["milan", "genoa", "turin"];

/** The spelling AMD uses in KDS URLs and certificate names (`ARK-Milan`, `/vcek/v1/Milan/…`). */
export function productKdsName(p: Product): "Milan" | "Genoa" | "Turin" {
  switch (p) {
    case "milan":
      return "Milan";
    case "genoa":
      return "Genoa";
    case "turin":
      return "Turin";
  }
}

/**
 * The product from the report's CPUID_FAM_ID / CPUID_MOD_ID (report version 3 and later).
 * Family 19h models 0xh are Milan (Zen 3), 1xh and Axh Genoa (Zen 4); family 1Ah models 0xh–1xh Turin (Zen 5)
 * (AMD PPR family/model tables; go-sev-guest `abi.SevProductFromCpuid1Eax` uses the same split).
 * Returns undefined for anything else: an unknown CPU is never guessed.
 */
export function productFromCpuid(family: number, model: number): Product | undefined {
  const hi = model >> 4;
  if (family === 0x19 && hi === 0x0) return "milan";
  if (family === 0x19 && (hi === 0x1 || hi === 0xa)) return "genoa";
  if (family === 0x1a && (hi === 0x0 || hi === 0x1)) return "turin";
  return undefined;
}

/**
 * The product from a VCEK/VLEK productName extension ("Milan-B0", "Genoa", "Turin"): the part before any
 * stepping suffix.
 */
export function productFromName(name: string): Product | undefined {
  const base = name.split("-")[0]?.toLowerCase();
  return PRODUCTS.find((p) => p === base);
}
