import { createHash } from "node:crypto";
import { TPM_ALG } from "./constants.ts";

/** A hash algorithm the module can compute (Part 2 §6.3 TPMI_ALG_HASH, the ones with software support). */
export interface HashInfo {
  readonly alg: number;
  /** Bank name as go-tpm-tools, tpm2-tools and the CLI JSON use it. */
  readonly name: "sha1" | "sha256" | "sha384" | "sha512";
  readonly size: number;
  /** WebCrypto algorithm name. */
  readonly webcrypto: "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";
}

/** The hash algorithms this module computes, keyed by TPM_ALG_ID. SM3 is known but not computable here. */
export const HASHES: ReadonlyMap<number, HashInfo> = new Map<number, HashInfo>([
  [TPM_ALG.SHA1, { alg: TPM_ALG.SHA1, name: "sha1", size: 20, webcrypto: "SHA-1" }],
  [TPM_ALG.SHA256, { alg: TPM_ALG.SHA256, name: "sha256", size: 32, webcrypto: "SHA-256" }],
  [TPM_ALG.SHA384, { alg: TPM_ALG.SHA384, name: "sha384", size: 48, webcrypto: "SHA-384" }],
  [TPM_ALG.SHA512, { alg: TPM_ALG.SHA512, name: "sha512", size: 64, webcrypto: "SHA-512" }],
]);

/** TPM_ALG_ID → digest size for every hash the structure tables accept (SM3_256 included). */
export const DIGEST_SIZES: ReadonlyMap<number, number> = new Map([
  ...[...HASHES.values()].map((h) => [h.alg, h.size] as [number, number]),
  [TPM_ALG.SM3_256, 32],
]);

/** Look a hash up by TPM_ALG_ID or bank name. */
export function hashInfo(algOrName: number | string): HashInfo | undefined {
  if (typeof algOrName === "number") return HASHES.get(algOrName);
  for (const h of HASHES.values()) if (h.name === algOrName) return h;
  return undefined;
}

/** Synchronous digest (node:crypto; WebCrypto's digest is async and slower for many small inputs). */
export function digest(h: HashInfo, ...parts: readonly Uint8Array[]): Uint8Array {
  const hasher = createHash(h.name);
  for (const p of parts) hasher.update(p);
  return new Uint8Array(hasher.digest());
}
