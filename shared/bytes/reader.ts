import { BytesError } from "./errors.ts";

/**
 * A bounds-checked cursor over untrusted bytes. Every read checks the remaining length first and throws
 * {@link BytesError} `OUT_OF_BOUNDS` instead of returning garbage, so parsers built on it cannot read past
 * the end whatever length fields claim.
 *
 * @example
 * const r = new ByteReader(bytes);
 * const tag = r.u16be(); const size = r.u32be(); const body = r.bytes(size);
 */
export class ByteReader {
  readonly #view: DataView;
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Current position from the start of the input. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  /** Total length of the input. */
  get length(): number {
    return this.#bytes.length;
  }

  /** Throw unless `n` more bytes are available. */
  need(n: number, what = "value"): void {
    if (n > this.remaining) {
      throw new BytesError("OUT_OF_BOUNDS", `Cannot read ${what} at offset ${this.#offset}`, {
        expected: `${n} bytes`,
        actual: `${this.remaining} bytes left`,
      });
    }
  }

  u8(): number {
    this.need(1, "u8");
    return this.#view.getUint8(this.#offset++);
  }

  u16be(): number {
    this.need(2, "u16");
    const v = this.#view.getUint16(this.#offset, false);
    this.#offset += 2;
    return v;
  }

  u16le(): number {
    this.need(2, "u16");
    const v = this.#view.getUint16(this.#offset, true);
    this.#offset += 2;
    return v;
  }

  u32be(): number {
    this.need(4, "u32");
    const v = this.#view.getUint32(this.#offset, false);
    this.#offset += 4;
    return v;
  }

  u32le(): number {
    this.need(4, "u32");
    const v = this.#view.getUint32(this.#offset, true);
    this.#offset += 4;
    return v;
  }

  u64be(): bigint {
    this.need(8, "u64");
    const v = this.#view.getBigUint64(this.#offset, false);
    this.#offset += 8;
    return v;
  }

  u64le(): bigint {
    this.need(8, "u64");
    const v = this.#view.getBigUint64(this.#offset, true);
    this.#offset += 8;
    return v;
  }

  /** The next `n` bytes as a copy (the caller may keep it after the input is reused). */
  bytes(n: number): Uint8Array {
    this.need(n, `${n}-byte field`);
    const out = this.#bytes.slice(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** The next `n` bytes without copying; valid only while the input is. */
  view(n: number): Uint8Array {
    this.need(n, `${n}-byte field`);
    const out = this.#bytes.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return out;
  }

  /** Skip `n` bytes. */
  skip(n: number): void {
    this.need(n, `${n} skipped bytes`);
    this.#offset += n;
  }

  /** Everything not yet read, without copying. */
  rest(): Uint8Array {
    const out = this.#bytes.subarray(this.#offset);
    this.#offset = this.#bytes.length;
    return out;
  }
}
