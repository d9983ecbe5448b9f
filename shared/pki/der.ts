import { toHex } from "@asterism/bytes";
import { PkiError } from "./errors.ts";

/**
 * A minimal, strict DER reader (ITU-T X.690 §8 and §10): definite lengths in minimal form only, single-byte
 * tags only (nothing in RFC 5280 needs more), no trailing data. It exists so that certificate parsing
 * here has no hidden leniency: every byte of a certificate is accounted for before any signature check.
 */

/** Universal tags used by RFC 5280 structures. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * Most elements accepted in one SEQUENCE/SET. Parsing is not recursive (callers descend on demand), so
 * nesting depth is bounded by the callers' fixed schemas; this bounds width (a CRL's revoked list).
 */
export const MAX_CHILDREN = 1 << 20;

/** One DER element: its tag, its content bytes and its full encoding (header + content). */
export interface Tlv {
  readonly tag: number;
  readonly value: Uint8Array;
  readonly raw: Uint8Array;
}

function bad(action: string, expected: string, actual: string): never {
  throw new PkiError("DER_INVALID", action, { expected, actual });
}

/** Read one element at `offset` of `buf`; returns it and the offset after it. */
export function readTlv(buf: Uint8Array, offset: number): { tlv: Tlv; next: number } {
  if (offset + 2 > buf.length) bad("Cannot read DER header", "2 bytes", `${buf.length - offset} bytes`);
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) bad("Cannot read DER tag", "a single-byte tag", `0x${tag.toString(16)}`);
  let len = buf[offset + 1] as number;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    // 0x80 is the BER indefinite form; 4 length bytes already allow 4 GiB, far beyond any input here.
    if (n === 0 || n > 4) bad("Cannot read DER length", "1..4 length bytes", `0x${len.toString(16)}`);
    if (p + n > buf.length) bad("Cannot read DER length", `${n} bytes`, `${buf.length - p} bytes`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[p + i] as number);
    if ((buf[p] as number) === 0 || len < 0x80)
      bad("Cannot read DER length", "minimal length encoding", toHex(buf.subarray(offset + 1, p + n)));
    p += n;
  }
  if (p + len > buf.length) bad("Cannot read DER value", `${len} bytes`, `${buf.length - p} bytes`);
  return {
    tlv: { tag, value: buf.subarray(p, p + len), raw: buf.subarray(offset, p + len) },
    next: p + len,
  };
}

/** Parse `buf` as exactly one element (trailing data rejected). */
export function parseDer(buf: Uint8Array): Tlv {
  const { tlv, next } = readTlv(buf, 0);
  if (next !== buf.length) bad("Cannot parse DER", `${next} bytes`, `${buf.length} bytes (trailing data)`);
  return tlv;
}

/** The elements inside a constructed element, in order. */
export function children(tlv: Tlv): Tlv[] {
  if ((tlv.tag & 0x20) === 0)
    bad("Cannot read DER children", "a constructed element", `tag 0x${tlv.tag.toString(16)}`);
  const out: Tlv[] = [];
  let off = 0;
  while (off < tlv.value.length) {
    if (out.length >= MAX_CHILDREN) bad("Cannot read DER children", `at most ${MAX_CHILDREN}`, "more");
    const { tlv: c, next } = readTlv(tlv.value, off);
    out.push(c);
    off = next;
  }
  return out;
}

/** Require `tlv` to carry `tag`. */
export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) bad(`Cannot read ${what}`, `tag 0x${tag.toString(16)}`, "end of structure");
  if (tlv.tag !== tag)
    bad(`Cannot read ${what}`, `tag 0x${tag.toString(16)}`, `tag 0x${tlv.tag.toString(16)}`);
  return tlv;
}

/** OBJECT IDENTIFIER content to dotted form (X.690 §8.19), rejecting non-minimal arcs. */
export function decodeOid(tlv: Tlv): string {
  expectTag(tlv, TAG.OID, "OBJECT IDENTIFIER");
  const v = tlv.value;
  if (v.length === 0 || v.length > 64) bad("Cannot read OID", "1..64 bytes", `${v.length} bytes`);
  const arcs: number[] = [];
  let acc = 0;
  let start = true;
  for (let i = 0; i < v.length; i++) {
    const b = v[i] as number;
    if (start && b === 0x80) bad("Cannot read OID", "minimal arcs", toHex(v));
    start = false;
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) bad("Cannot read OID", "arcs below 2^46", toHex(v));
    if ((b & 0x80) === 0) {
      arcs.push(acc);
      acc = 0;
      start = true;
    }
  }
  if (!start) bad("Cannot read OID", "a complete last arc", toHex(v));
  const first = arcs[0] as number;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

/** INTEGER content as an unsigned bigint; negative values are rejected (none are meaningful here). */
export function decodeUnsigned(tlv: Tlv, what: string): bigint {
  expectTag(tlv, TAG.INTEGER, what);
  const v = tlv.value;
  if (v.length === 0) bad(`Cannot read ${what}`, "a non-empty INTEGER", "0 bytes");
  if (v.length > 1 && v[0] === 0 && ((v[1] as number) & 0x80) === 0)
    bad(`Cannot read ${what}`, "a minimal INTEGER", toHex(v));
  if ((v[0] as number) & 0x80) bad(`Cannot read ${what}`, "a non-negative INTEGER", toHex(v));
  let n = 0n;
  for (const b of v) n = (n << 8n) | BigInt(b);
  return n;
}

/**
 * INTEGER content as a signed bigint (two's complement). Only for serial numbers: RFC 5280 §4.1.2.2 asks
 * for positive ones but tells users to "gracefully handle" non-conforming (negative, zero) serials.
 */
export function decodeSigned(tlv: Tlv, what: string): bigint {
  expectTag(tlv, TAG.INTEGER, what);
  const v = tlv.value;
  if (v.length === 0 || v.length > 64) bad(`Cannot read ${what}`, "1..64 bytes", `${v.length} bytes`);
  const b1 = (v[1] ?? 0) & 0x80;
  if (v.length > 1 && ((v[0] === 0 && b1 === 0) || (v[0] === 0xff && b1 !== 0)))
    bad(`Cannot read ${what}`, "a minimal INTEGER", toHex(v));
  let n = 0n;
  for (const b of v) n = (n << 8n) | BigInt(b);
  return (v[0] as number) & 0x80 ? n - (1n << BigInt(8 * v.length)) : n;
}

/** Encode a DER header + content (used to rebuild a SubjectPublicKeyInfo). */
export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(header.length + n);
  out.set(header, 0);
  out.set(value, header.length);
  return out;
}
