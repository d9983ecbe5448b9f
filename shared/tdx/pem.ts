import { fromBase64 } from "@asterism/bytes";
import { TdxParseError } from "./errors.ts";

const BEGIN = "-----BEGIN CERTIFICATE-----";
const END = "-----END CERTIFICATE-----";
/** More than this many certificates in one PEM bundle is malformed (Intel chains have 2–3). */
export const MAX_PEM_CERTIFICATES = 8;

/**
 * Split a PEM bundle into DER certificates, strictly: only CERTIFICATE blocks, separated by whitespace;
 * trailing NUL bytes are tolerated because the quote's type-5 data is a C string in some QE versions.
 * Anything else between or around blocks is rejected (a lenient PEM reader is a parser differential).
 */
export function parsePemCertificates(text: string, what: string): Uint8Array[] {
  const s = text.replace(/\0+$/, "");
  const out: Uint8Array[] = [];
  let i = 0;
  const skipWs = () => {
    while (i < s.length && /\s/.test(s[i] ?? "")) i++;
  };
  skipWs();
  while (i < s.length) {
    if (out.length >= MAX_PEM_CERTIFICATES)
      throw new TdxParseError("SIZE_LIMIT", `Cannot parse ${what}`, {
        expected: `at most ${MAX_PEM_CERTIFICATES} certificates`,
      });
    if (!s.startsWith(BEGIN, i))
      throw new TdxParseError("MALFORMED", `Cannot parse ${what}`, {
        expected: BEGIN,
        actual: JSON.stringify(s.slice(i, i + 32)),
      });
    const end = s.indexOf(END, i);
    if (end < 0)
      throw new TdxParseError("MALFORMED", `Cannot parse ${what}`, { expected: END, actual: "EOF" });
    const b64 = s.slice(i + BEGIN.length, end).replace(/\s+/g, "");
    try {
      out.push(fromBase64(b64));
    } catch (cause) {
      throw new TdxParseError("MALFORMED", `Cannot parse ${what}: certificate ${out.length} is not base64`, {
        cause,
      });
    }
    i = end + END.length;
    skipWs();
  }
  if (out.length === 0)
    throw new TdxParseError("MALFORMED", `Cannot parse ${what}`, {
      expected: "a certificate",
      actual: "none",
    });
  return out;
}
