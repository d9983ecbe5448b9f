import { AtlsError } from "./errors.ts";

/**
 * The client's nonce rides in the TLS server name (RFC 6066 §3 `server_name`), the only client-chosen
 * value a `node:tls` server sees before it must pick its certificate. Wire form (lower case only):
 *
 *     <52 base32 chars>.atls-v1.invalid
 *
 * - the first label is RFC 4648 §6 base32 of the 32-byte nonce with the alphabet lower-cased and the `=`
 *   padding dropped (52 characters, under the 63-character DNS label limit of RFC 1035 §2.3.4);
 * - `atls-v1` names this encoding, so a later one can coexist;
 * - `.invalid` (RFC 6761 §6.4) guarantees the name never resolves and never collides with a real host.
 *
 * 68 characters in all (RFC 1035 limits names to 253). Decoding is canonical: exactly one string decodes
 * to each nonce (lower case, the 4 unused trailing bits zero), so the name cannot be re-spelled.
 */
export const SNI_NONCE_SUFFIX = ".atls-v1.invalid";

/** Nonce length in bytes: 256 bits, unguessable and never reused by chance. */
export const NONCE_BYTES = 32;

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
/** ceil(256 / 5): 51 full 5-bit groups plus one carrying the last bit. */
const LABEL_CHARS = 52;

/** Encode a 32-byte nonce as an aTLS server name. */
export function encodeSniNonce(nonce: Uint8Array): string {
  if (nonce.length !== NONCE_BYTES)
    throw new AtlsError("INVALID_OPTIONS", "Cannot encode aTLS nonce", {
      expected: `${NONCE_BYTES} bytes`,
      actual: `${nonce.length} bytes`,
    });
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of nonce) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out + SNI_NONCE_SUFFIX;
}

/** True when `name` is meant as an aTLS nonce name (it ends with the suffix), well-formed or not. */
export function hasSniNonceSuffix(name: string): boolean {
  return name.endsWith(SNI_NONCE_SUFFIX);
}

/**
 * Decode the nonce from a server name. Throws `NONCE_MISSING` for a name without the aTLS suffix (or no
 * name at all) and `NONCE_MALFORMED` for anything but the canonical encoding.
 */
export function decodeSniNonce(name: string | undefined | false | null): Uint8Array {
  if (typeof name !== "string" || !hasSniNonceSuffix(name))
    throw new AtlsError("NONCE_MISSING", "Cannot read the client nonce from the TLS server name", {
      expected: `<base32 nonce>${SNI_NONCE_SUFFIX}`,
      actual: typeof name === "string" ? `${JSON.stringify(name.slice(0, 80))}` : "no server name",
    });
  const label = name.slice(0, -SNI_NONCE_SUFFIX.length);
  const malformed = (why: string) =>
    new AtlsError("NONCE_MALFORMED", "Cannot decode the client nonce from the TLS server name", {
      expected: `${LABEL_CHARS} lower-case base32 characters, unused bits zero`,
      actual: why,
    });
  if (label.length !== LABEL_CHARS) throw malformed(`${label.length} characters`);
  const out = new Uint8Array(NONCE_BYTES);
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < label.length; i++) {
    const v = ALPHABET.indexOf(label.charAt(i));
    if (v < 0) throw malformed(`character ${JSON.stringify(label.charAt(i))} at ${i}`);
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // 52 × 5 = 260 bits: the last 4 are padding and must be zero for the encoding to be canonical.
  if ((acc & ((1 << bits) - 1)) !== 0) throw malformed("non-zero padding bits");
  return out;
}
