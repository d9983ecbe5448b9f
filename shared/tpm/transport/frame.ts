import { TransportError } from "../errors.ts";
import { HEADER_SIZE, MAX_RESPONSE_SIZE } from "./types.ts";

/**
 * Read the `responseSize` field of a TPM response header and check it is possible, so that a broken or
 * hostile peer cannot make us wait for, or allocate, an absurd amount of data.
 */
export function responseSize(header: Uint8Array): number {
  const size = new DataView(header.buffer, header.byteOffset, header.byteLength).getUint32(2);
  if (size < HEADER_SIZE || size > MAX_RESPONSE_SIZE) {
    throw new TransportError("FRAMING", "Impossible TPM response size", {
      expected: `${HEADER_SIZE}..${MAX_RESPONSE_SIZE}`,
      actual: String(size),
    });
  }
  return size;
}

/**
 * Accumulates stream chunks and yields one complete response at a time (TCP may split or merge them).
 */
export class ResponseAssembler {
  private chunks: Uint8Array[] = [];
  private length = 0;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** The next complete response, or undefined while more bytes are needed. */
  take(): Uint8Array | undefined {
    if (this.length < HEADER_SIZE) return undefined;
    const all = this.flatten();
    const size = responseSize(all);
    if (all.length < size) return undefined;
    const out = all.slice(0, size);
    const rest = all.subarray(size);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  get pending(): number {
    return this.length;
  }

  private flatten(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const all = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      all.set(c, o);
      o += c.length;
    }
    this.chunks = [all];
    return all;
  }
}
