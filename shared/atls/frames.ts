import type { Duplex } from "node:stream";
import {
  type Codec,
  CodecError,
  constant,
  decode,
  encode,
  refine,
  sized,
  struct,
  transform,
  u8,
  u32,
} from "@asterism/codec";
import type { AtlsErrorCode } from "./errors.ts";
import { AtlsError } from "./errors.ts";
import { MAX_EVIDENCE_BYTES_LIMIT } from "./evidence.ts";

/**
 * The client-evidence exchange that follows the TLS 1.3 handshake in client-attested and mutual modes
 * (docs/atls.md §4). Both frames travel inside the TLS channel, before any HTTP byte:
 *
 *     client → server   ATLS_FRAME_HEADER(type = CLIENT_EVIDENCE) ‖ ATLS_CLIENT_EVIDENCE
 *     server → client   ATLS_FRAME_HEADER(type = SERVER_VERDICT)  ‖ ATLS_SERVER_VERDICT
 *
 * All integers are big-endian. The header has a fixed size and announces the body length, so a reader
 * can refuse an oversized frame before buffering it, and HTTP bytes ("GET ", "POST") fail the magic.
 */

/** "ATLS" in ASCII. */
export const ATLS_FRAME_MAGIC = 0x41544c53;
/** Version of the frame format described here. */
export const ATLS_FRAME_VERSION = 1;
/** Frame types. */
export const ATLS_FRAME_TYPE = { CLIENT_EVIDENCE: 1, SERVER_VERDICT: 2 } as const;
/** A dotted OID fits easily; Constellation's are 12 characters. */
const MAX_OID_CHARS = 64;
/** Verdict codes are AtlsErrorCode names. */
const MAX_CODE_CHARS = 64;
/** Header size: magic(4) version(1) type(1) length(4). */
export const ATLS_FRAME_HEADER_BYTES = 10;
/** Body overhead of a client-evidence frame besides the document: oid length(1) + oid + document length(4). */
const EVIDENCE_OVERHEAD = 1 + MAX_OID_CHARS + 4;

const ascii = (max: number, name: string, min = 1): Codec<string> =>
  transform(
    refine(
      sized(u8, { max, name }),
      (b) => b.length >= min && b.every((c) => c >= 0x21 && c <= 0x7e),
      `${min}..${max} printable ASCII characters`,
      name,
    ),
    (b) => new TextDecoder().decode(b),
    (s) => new TextEncoder().encode(s),
    name,
  );

/** ATLS_FRAME_HEADER: magic u32 = "ATLS", version u8 = 1, type u8, length u32 (of the body that follows). */
export const ATLS_FRAME_HEADER = struct("ATLS_FRAME_HEADER", {
  magic: constant(u32, ATLS_FRAME_MAGIC, "ATLS_FRAME_MAGIC"),
  version: constant(u8, ATLS_FRAME_VERSION, "ATLS_FRAME_VERSION"),
  type: refine(u8, (t) => t === 1 || t === 2, "1 (CLIENT_EVIDENCE) or 2 (SERVER_VERDICT)", "ATLS_FRAME_TYPE"),
  length: u32,
});

/**
 * ATLS_CLIENT_EVIDENCE: oid (u8 length + dotted ASCII) naming the variant, document (u32 length + bytes)
 * issued with nonce = TLS exporter value and userData = SHA-256(client certificate SPKI).
 */
export const ATLS_CLIENT_EVIDENCE = struct("ATLS_CLIENT_EVIDENCE", {
  oid: ascii(MAX_OID_CHARS, "OID"),
  document: sized(u32, { max: MAX_EVIDENCE_BYTES_LIMIT, name: "DOCUMENT" }),
});

/** ATLS_SERVER_VERDICT: status u8 (0 = accepted, 1 = rejected), code (u8 length + ASCII; empty when accepted). */
export const ATLS_SERVER_VERDICT = struct("ATLS_SERVER_VERDICT", {
  status: refine(u8, (s) => s === 0 || s === 1, "0 (accepted) or 1 (rejected)", "STATUS"),
  code: ascii(MAX_CODE_CHARS, "CODE", 0),
});

/** A verdict as code sees it. A rejection carries the server's AtlsErrorCode (untrusted text from the peer). */
export type Verdict = { readonly accepted: true } | { readonly accepted: false; readonly code: string };

function frame(type: number, body: Uint8Array): Uint8Array {
  const header = encode(ATLS_FRAME_HEADER, {
    magic: ATLS_FRAME_MAGIC,
    version: ATLS_FRAME_VERSION,
    type,
    length: body.length,
  });
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** Serialize a client-evidence frame. */
export function encodeClientEvidence(oid: string, document: Uint8Array): Uint8Array {
  return frame(ATLS_FRAME_TYPE.CLIENT_EVIDENCE, encode(ATLS_CLIENT_EVIDENCE, { oid, document }));
}

/** Serialize a verdict frame. */
export function encodeVerdict(v: Verdict): Uint8Array {
  const body = v.accepted ? { status: 0, code: "" } : { status: 1, code: v.code };
  return frame(ATLS_FRAME_TYPE.SERVER_VERDICT, encode(ATLS_SERVER_VERDICT, body));
}

/** Parse a client-evidence body. Throws `PROTOCOL_VIOLATION`. */
export function decodeClientEvidence(body: Uint8Array): { oid: string; document: Uint8Array } {
  return decodeOr(() => decode(ATLS_CLIENT_EVIDENCE, body), "client evidence");
}

/** Parse a verdict body. Throws `PROTOCOL_VIOLATION`. */
export function decodeVerdict(body: Uint8Array): Verdict {
  const v = decodeOr(() => decode(ATLS_SERVER_VERDICT, body), "server verdict");
  if (v.status === 0) return { accepted: true };
  return { accepted: false, code: v.code };
}

function decodeOr<T>(f: () => T, what: string): T {
  try {
    return f();
  } catch (cause) {
    if (!(cause instanceof CodecError)) throw cause;
    throw new AtlsError("PROTOCOL_VIOLATION", `Cannot parse the aTLS ${what} frame`, {
      expected: "a well-formed frame (docs/atls.md §4)",
      actual: cause.code,
      cause,
    });
  }
}

/** Largest body a client-evidence frame may announce for a given document bound. */
export function maxEvidenceFrameBody(maxEvidenceBytes: number): number {
  return maxEvidenceBytes + EVIDENCE_OVERHEAD;
}

/** Options of {@link readFrame}. */
export interface ReadFrameOptions {
  readonly type: number;
  readonly maxBody: number;
  readonly timeoutMs: number;
  /** Code for an announced body above `maxBody`. */
  readonly tooLargeCode: AtlsErrorCode;
  /** What is being waited for, for messages. */
  readonly what: string;
  /**
   * Bytes after the frame: `reject` (`UNEXPECTED_DATA`, the server side: the client must wait for the
   * verdict) or `keep` (pushed back into the socket for the next reader, the client side).
   */
  readonly trailing: "reject" | "keep";
}

/**
 * Read exactly one frame from `socket`: header, bounded body, nothing after it. The peer must wait for our
 * answer before sending more, so any extra byte is `UNEXPECTED_DATA`. On return the socket is paused with
 * our listeners removed, ready to be handed to the HTTP layer.
 */
export function readFrame(socket: Duplex, opts: ReadFrameOptions): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let have = 0;
    let need = ATLS_FRAME_HEADER_BYTES;
    let headerDone = false;
    const finish = (err: AtlsError | undefined, body?: Uint8Array) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
      socket.pause();
      if (err !== undefined) reject(err);
      else resolve(body as Uint8Array);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      have += chunk.byteLength;
      if (have < need) return;
      const all = joined(chunks, have);
      if (!headerDone) {
        let header: { type: number; length: number };
        try {
          header = decodeOr(
            () => decode(ATLS_FRAME_HEADER, all.subarray(0, ATLS_FRAME_HEADER_BYTES)),
            opts.what,
          );
        } catch (err) {
          return finish(err as AtlsError);
        }
        if (header.type !== opts.type)
          return finish(
            new AtlsError("PROTOCOL_VIOLATION", `Cannot read the aTLS ${opts.what} frame`, {
              expected: `frame type ${opts.type}`,
              actual: `type ${header.type}`,
            }),
          );
        if (header.length > opts.maxBody)
          return finish(
            new AtlsError(opts.tooLargeCode, `Cannot accept the aTLS ${opts.what} frame`, {
              expected: `a body of at most ${opts.maxBody} bytes`,
              actual: `${header.length} bytes announced`,
            }),
          );
        headerDone = true;
        need = ATLS_FRAME_HEADER_BYTES + header.length;
        chunks.length = 0;
        chunks.push(all);
        if (have < need) return;
      }
      if (have > need && opts.trailing === "keep") {
        // Detach first (finish pauses and removes our listener), or unshift would feed the bytes back to us.
        finish(undefined, all.slice(ATLS_FRAME_HEADER_BYTES, need));
        socket.unshift(Buffer.from(all.subarray(need)));
        return;
      }
      if (have > need)
        return finish(
          new AtlsError("UNEXPECTED_DATA", `Cannot accept data after the aTLS ${opts.what} frame`, {
            expected: "nothing until the frame is answered",
            actual: `${have - need} more bytes`,
          }),
        );
      finish(undefined, all.slice(ATLS_FRAME_HEADER_BYTES, need));
    };
    const onEnd = () =>
      finish(
        new AtlsError(
          "CONNECTION_CLOSED",
          `Connection closed while waiting for the aTLS ${opts.what} frame`,
          {
            expected: `${need} bytes`,
            actual: `${have} bytes`,
          },
        ),
      );
    const onError = (cause: Error) =>
      finish(
        new AtlsError(
          "CONNECTION_CLOSED",
          `Connection failed while waiting for the aTLS ${opts.what} frame`,
          {
            cause,
          },
        ),
      );
    const timer = setTimeout(
      () =>
        finish(
          new AtlsError("ATTESTATION_TIMEOUT", `Gave up waiting for the aTLS ${opts.what} frame`, {
            expected: `a complete frame within ${opts.timeoutMs} ms`,
            actual: `${have} bytes`,
          }),
        ),
      opts.timeoutMs,
    );
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    socket.resume();
  });
}

function joined(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
