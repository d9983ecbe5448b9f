import { SnpParseError } from "../errors.ts";
import type { Product } from "./product.ts";

/**
 * The security patch levels (SPLs) of a TCB_VERSION. `fmc` exists on Turin only (undefined elsewhere).
 */
export interface TcbParts {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  readonly fmc?: number;
}

/** The components compared, in the order messages list them. */
export const TCB_COMPONENTS = ["fmc", "bootloader", "tee", "snp", "microcode"] as const;

/**
 * Decode a TCB_VERSION (a little-endian u64) for `product`.
 *
 * SEV-SNP Firmware ABI spec, "TCB_VERSION Structure":
 * ```
 * Milan, Genoa:  byte 0 BOOT_LOADER | byte 1 TEE | bytes 2–5 reserved | byte 6 SNP | byte 7 MICROCODE
 * Turin:         byte 0 FMC | byte 1 BOOT_LOADER | byte 2 TEE | byte 3 SNP | bytes 4–6 reserved | byte 7 MICROCODE
 * ```
 * (external VECTORS.md §1 states the same byte positions.) Reserved bytes must be zero.
 */
export function decodeTcb(raw: bigint, product: Product): TcbParts {
  const b = (i: number) => Number((raw >> BigInt(8 * i)) & 0xffn);
  const reservedMask = product === "turin" ? 0x00ffffff00000000n : 0x0000ffffffff0000n;
  if ((raw & reservedMask) !== 0n)
    throw new SnpParseError("RESERVED_NONZERO", `Reserved bytes of the ${product} TCB_VERSION are set`, {
      expected: `mask 0x${reservedMask.toString(16).padStart(16, "0")} clear`,
      actual: `0x${raw.toString(16).padStart(16, "0")}`,
    });
  if (product === "turin") return { fmc: b(0), bootloader: b(1), tee: b(2), snp: b(3), microcode: b(7) };
  return { bootloader: b(0), tee: b(1), snp: b(6), microcode: b(7) };
}

/** Encode {@link TcbParts} as the raw TCB_VERSION of `product` (inverse of {@link decodeTcb}). */
export function encodeTcb(t: TcbParts, product: Product): bigint {
  const put = (v: number | undefined, i: number) => BigInt((v ?? 0) & 0xff) << BigInt(8 * i);
  if (product === "turin")
    return put(t.fmc, 0) | put(t.bootloader, 1) | put(t.tee, 2) | put(t.snp, 3) | put(t.microcode, 7);
  return put(t.bootloader, 0) | put(t.tee, 1) | put(t.snp, 6) | put(t.microcode, 7);
}

/**
 * The first component where `a` is below `b`, or undefined when `a ≥ b` component by component. A TCB is
 * only "at least" another when every SPL is: a raw u64 comparison would let a high microcode SPL hide an
 * old bootloader.
 */
export function tcbBelow(a: TcbParts, b: TcbParts): (typeof TCB_COMPONENTS)[number] | undefined {
  return TCB_COMPONENTS.find((k) => (a[k] ?? 0) < (b[k] ?? 0));
}

/** True when every component is equal. */
export function tcbEqual(a: TcbParts, b: TcbParts): boolean {
  return TCB_COMPONENTS.every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

/** `bl=2 tee=0 snp=6 ucode=93` (plus `fmc=` on Turin), for messages. */
export function formatTcb(t: TcbParts): string {
  return `${t.fmc === undefined ? "" : `fmc=${t.fmc} `}bl=${t.bootloader} tee=${t.tee} snp=${t.snp} ucode=${t.microcode}`;
}
