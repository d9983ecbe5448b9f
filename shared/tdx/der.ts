/**
 * A minimal, strict DER reader for the PCK certificate's SGX extension (the only ASN.1 this module
 * reads itself; certificates and CRLs go through @peculiar/x509). Definite lengths only, minimal length
 * encoding, bounded nesting through the callers' fixed schema. Throws {@link DerError}.
 */
export class DerError extends Error {}

/** One TLV. `content` is a view into the input. */
export interface Tlv {
  readonly tag: number;
  readonly content: Uint8Array;
}

export const TAG_INTEGER = 0x02;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_ENUMERATED = 0x0a;
export const TAG_BOOLEAN = 0x01;
export const TAG_SEQUENCE = 0x30;

/** Read every TLV of `b` in order (the content of a SEQUENCE), rejecting anything that does not parse. */
export function readAll(b: Uint8Array, maxItems = 64): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < b.length) {
    if (out.length >= maxItems) throw new DerError(`more than ${maxItems} elements`);
    const tag = b[i++];
    if (tag === undefined || (tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags unsupported");
    const first = b[i++];
    if (first === undefined) throw new DerError("truncated length");
    let len = first;
    if (first & 0x80) {
      const n = first & 0x7f;
      if (n === 0 || n > 3) throw new DerError(`unsupported length of length ${n}`);
      len = 0;
      for (let k = 0; k < n; k++) {
        const x = b[i++];
        if (x === undefined) throw new DerError("truncated length");
        if (k === 0 && x === 0) throw new DerError("non-minimal length");
        len = len * 256 + x;
      }
      if (len < 0x80) throw new DerError("non-minimal length");
    }
    if (i + len > b.length) throw new DerError("truncated content");
    out.push({ tag, content: b.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/** The only TLV of `b`. */
export function readOne(b: Uint8Array): Tlv {
  const all = readAll(b, 1);
  const one = all[0];
  if (all.length !== 1 || one === undefined) throw new DerError("expected exactly one element");
  return one;
}

/** Dotted form of an OBJECT IDENTIFIER's content. */
export function oidToString(c: Uint8Array): string {
  if (c.length === 0 || c.length > 64) throw new DerError("bad OID length");
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < c.length; i++) {
    const x = c[i] ?? 0;
    if (v === 0 && x === 0x80) throw new DerError("non-minimal OID arc");
    v = v * 128 + (x & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) throw new DerError("OID arc too large");
    if (!(x & 0x80)) {
      parts.push(v);
      v = 0;
    } else if (i === c.length - 1) throw new DerError("truncated OID");
  }
  const first = parts.shift() ?? 0;
  const a = first < 40 ? 0 : first < 80 ? 1 : 2;
  return [a, first - a * 40, ...parts].join(".");
}

/** A non-negative INTEGER that fits in a JS number (SVNs, ENUMERATED values). */
export function smallUint(t: Tlv): number {
  const c = t.content;
  if (c.length === 0 || c.length > 4) throw new DerError("integer length out of range");
  if ((c[0] ?? 0) & 0x80) throw new DerError("negative integer");
  if (c.length > 1 && c[0] === 0 && !((c[1] ?? 0) & 0x80)) throw new DerError("non-minimal integer");
  let v = 0;
  for (const x of c) v = v * 256 + x;
  return v;
}
