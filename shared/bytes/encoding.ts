import { BytesError } from "./errors.ts";

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL_RE = /^[A-Za-z0-9_-]*$/;
/** Only shown in error messages: enough to recognise the input, never the whole of it. */
const PREVIEW_CHARS = 16;

function preview(s: string): string {
  return s.length <= PREVIEW_CHARS
    ? JSON.stringify(s)
    : `${JSON.stringify(s.slice(0, PREVIEW_CHARS))}… (${s.length} chars)`;
}

/** Lower-case hex of `b`. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Strict hex decoding: even length, hex digits only (either case), nothing else. */
export function fromHex(s: string): Uint8Array {
  if (!HEX_RE.test(s)) {
    throw new BytesError("INVALID_HEX", "Cannot decode hex", {
      expected: "an even number of hex digits",
      actual: preview(s),
    });
  }
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

/** Strict standard base64: canonical padding, no whitespace, no URL alphabet. */
export function fromBase64(s: string): Uint8Array {
  if (!B64_RE.test(s)) {
    throw new BytesError("INVALID_BASE64", "Cannot decode base64", {
      expected: "padded standard base64 (RFC 4648 §4)",
      actual: preview(s),
    });
  }
  return new Uint8Array(Buffer.from(s, "base64"));
}

/** Unpadded base64url (RFC 4648 §5). */
export function toBase64Url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");
}

/** Strict unpadded base64url; a length of 1 mod 4 cannot encode whole bytes and is rejected. */
export function fromBase64Url(s: string): Uint8Array {
  if (!B64URL_RE.test(s) || s.length % 4 === 1) {
    throw new BytesError("INVALID_BASE64", "Cannot decode base64url", {
      expected: "unpadded base64url (RFC 4648 §5)",
      actual: preview(s),
    });
  }
  return new Uint8Array(Buffer.from(s, "base64url"));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Strict UTF-8 decoding (invalid sequences throw). */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}
