import { fromBase64, toBase64 } from "@asterism/bytes";
import { PkiError } from "./errors.ts";

/** One PEM block (RFC 7468 §2): its label (e.g. `CERTIFICATE`) and the DER it armours. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/** Largest PEM text accepted: a full AMD chain is ~5 KiB, a CRL a few KiB more. */
export const MAX_PEM_CHARS = 1 << 20;

const BEGIN = /^-----BEGIN ([A-Z0-9 ]{1,64})-----$/;
const END = /^-----END ([A-Z0-9 ]{1,64})-----$/;

/**
 * Parse PEM text strictly (RFC 7468 "strict" form, CRLF or LF line ends): only blank lines may stand outside
 * blocks, labels must match, base64 must be canonical. Loose text is how a chain file smuggles a second
 * meaning, so it is an error here (Constellation's ParseCertChain rejects trailing garbage too).
 *
 * @example
 * const [ask, ark] = parsePem(await Bun.file("cert_chain").text()).map((b) => b.der);
 */
export function parsePem(text: string): PemBlock[] {
  if (text.length > MAX_PEM_CHARS)
    throw new PkiError("PEM_INVALID", "Cannot parse PEM", {
      expected: `at most ${MAX_PEM_CHARS} characters`,
      actual: `${text.length}`,
    });
  const lines = text.split(/\r?\n/);
  const out: PemBlock[] = [];
  let label: string | undefined;
  let body: string[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.trimEnd();
    if (label === undefined) {
      if (line === "") continue;
      const m = BEGIN.exec(line);
      if (m === null)
        throw new PkiError("PEM_INVALID", `Cannot parse PEM line ${i + 1}`, {
          expected: "-----BEGIN <label>----- or a blank line",
          actual: JSON.stringify(line.slice(0, 40)),
        });
      label = m[1] as string;
      body = [];
      continue;
    }
    const end = END.exec(line);
    if (end === null) {
      body.push(line);
      continue;
    }
    if (end[1] !== label)
      throw new PkiError("PEM_INVALID", `Cannot parse PEM line ${i + 1}`, {
        expected: `-----END ${label}-----`,
        actual: JSON.stringify(line),
      });
    let der: Uint8Array;
    try {
      der = fromBase64(body.join(""));
    } catch (cause) {
      throw new PkiError("PEM_INVALID", `Cannot decode PEM block ${out.length + 1} (${label})`, { cause });
    }
    if (der.length === 0)
      throw new PkiError("PEM_INVALID", `Cannot decode PEM block ${out.length + 1}`, {
        expected: "a non-empty body",
        actual: "0 bytes",
      });
    out.push({ label, der });
    label = undefined;
  }
  if (label !== undefined)
    throw new PkiError("PEM_INVALID", "Cannot parse PEM", {
      expected: `-----END ${label}-----`,
      actual: "end of text",
    });
  return out;
}

/** Encode DER as one PEM block with 64-character lines. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Certificates from input that is either DER (one certificate) or PEM (one or more `CERTIFICATE` blocks).
 * DER is recognised by its leading SEQUENCE tag, which cannot begin a PEM text.
 */
export function certificatesFromPemOrDer(input: Uint8Array): Uint8Array[] {
  if (input[0] === 0x30) return [input];
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(input);
  } catch (cause) {
    throw new PkiError("PEM_INVALID", "Cannot read certificate input", {
      expected: "DER or PEM text",
      actual: "neither",
      cause,
    });
  }
  const blocks = parsePem(text);
  if (blocks.length === 0)
    throw new PkiError("PEM_INVALID", "Cannot read certificate input", {
      expected: "at least one PEM block",
      actual: "no PEM blocks",
    });
  return blocks.map((b, i) => {
    if (b.label !== "CERTIFICATE")
      throw new PkiError("PEM_INVALID", `Cannot read PEM block ${i + 1}`, {
        expected: "CERTIFICATE",
        actual: b.label,
      });
    return b.der;
  });
}
