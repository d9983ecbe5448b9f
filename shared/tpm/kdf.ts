import { createHmac } from "node:crypto";
import { ByteWriter } from "@asterism/bytes";
import { digest, type HashInfo } from "./hash.ts";

function label(l: string): Uint8Array {
  // Part 1 §11.4.9.2: "If Label is not present, a zero octet is used; a label that is not zero-terminated
  // has one added" — so the terminating 0x00 is always part of the input.
  return new TextEncoder().encode(l.endsWith("\0") ? l : `${l}\0`);
}

/**
 * KDFa, TPM 2.0 Part 1 §11.4.9.2 (SP 800-108 counter mode with HMAC):
 * K(i) = HMAC(key, [i]₃₂ ‖ Label ‖ 0x00 ‖ contextU ‖ contextV ‖ [bits]₃₂), concatenated, truncated to `bits`.
 */
export function kdfa(
  h: HashInfo,
  key: Uint8Array,
  use: string,
  contextU: Uint8Array,
  contextV: Uint8Array,
  bits: number,
): Uint8Array {
  const bytes = Math.ceil(bits / 8);
  const out = new Uint8Array(bytes);
  const l = label(use);
  for (let i = 1, off = 0; off < bytes; i++) {
    const input = new ByteWriter().u32be(i).bytes(l).bytes(contextU).bytes(contextV).u32be(bits).finish();
    const k = new Uint8Array(createHmac(h.name, key).update(input).digest());
    out.set(k.subarray(0, Math.min(k.length, bytes - off)), off);
    off += k.length;
  }
  return out;
}

/**
 * KDFe, TPM 2.0 Part 1 §11.4.10.3 (SP 800-56A concatenation KDF):
 * K(i) = H([i]₃₂ ‖ Z ‖ Use ‖ 0x00 ‖ partyUInfo ‖ partyVInfo), concatenated, truncated to `bits`.
 */
export function kdfe(
  h: HashInfo,
  z: Uint8Array,
  use: string,
  partyU: Uint8Array,
  partyV: Uint8Array,
  bits: number,
): Uint8Array {
  const bytes = Math.ceil(bits / 8);
  const out = new Uint8Array(bytes);
  const l = label(use);
  for (let i = 1, off = 0; off < bytes; i++) {
    const k = digest(h, new ByteWriter().u32be(i).finish(), z, l, partyU, partyV);
    out.set(k.subarray(0, Math.min(k.length, bytes - off)), off);
    off += k.length;
  }
  return out;
}
