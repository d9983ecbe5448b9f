import { fromBase64, toBase64 } from "@asterism/bytes";

/** One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, …) and the DER it carries. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/**
 * RFC 7468 §2 textual encoding in exactly the shape Go's `encoding/pem` writes (base64 in 64-column lines,
 * LF line ends, a final LF). kubeadm compares the CA of an existing kubeconfig byte for byte with
 * `EncodeCertPEM(ca)` (whitespace-trimmed), so the kubelet.conf we write must use this shape.
 */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]{1,40})-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/**
 * The PEM blocks of `text` (RFC 7468 §3 strict: no headers, standard padded base64), or undefined when
 * anything but whitespace lies outside the blocks or a block does not decode. Never throws.
 */
export function decodePemBlocks(text: string): PemBlock[] | undefined {
  const blocks: PemBlock[] = [];
  let last = 0;
  for (const m of text.matchAll(BLOCK)) {
    if (text.slice(last, m.index).trim() !== "") return undefined;
    last = m.index + m[0].length;
    const body = (m[2] ?? "").replace(/\r?\n/g, "");
    try {
      blocks.push({ label: m[1] ?? "", der: fromBase64(body) });
    } catch {
      return undefined;
    }
  }
  if (text.slice(last).trim() !== "") return undefined;
  return blocks;
}
