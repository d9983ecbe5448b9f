import { BytesError } from "./errors.ts";

const INITIAL_CAPACITY = 256;

/**
 * A growable big/little-endian writer. Values are range-checked so a serializer can never silently
 * truncate a number into a smaller field.
 */
export class ByteWriter {
  #buf = new Uint8Array(INITIAL_CAPACITY);
  #view = new DataView(this.#buf.buffer);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  #reserve(n: number): void {
    if (this.#length + n <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < this.#length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): this {
    checkRange(v, 0xff, "u8");
    this.#reserve(1);
    this.#view.setUint8(this.#length, v);
    this.#length += 1;
    return this;
  }

  u16be(v: number): this {
    return this.#u16(v, false);
  }

  u16le(v: number): this {
    return this.#u16(v, true);
  }

  u32be(v: number): this {
    return this.#u32(v, false);
  }

  u32le(v: number): this {
    return this.#u32(v, true);
  }

  u64be(v: bigint): this {
    return this.#u64(v, false);
  }

  u64le(v: bigint): this {
    return this.#u64(v, true);
  }

  bytes(b: Uint8Array): this {
    this.#reserve(b.length);
    this.#buf.set(b, this.#length);
    this.#length += b.length;
    return this;
  }

  /** Overwrite a big-endian u32 already written at `offset` (for size fields known only at the end). */
  patchU32be(offset: number, v: number): this {
    checkRange(v, 0xffffffff, "u32");
    if (offset < 0 || offset + 4 > this.#length) {
      throw new BytesError("OUT_OF_BOUNDS", "Cannot patch u32", {
        expected: `offset within [0, ${this.#length - 4}]`,
        actual: String(offset),
      });
    }
    this.#view.setUint32(offset, v, false);
    return this;
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }

  #u16(v: number, le: boolean): this {
    checkRange(v, 0xffff, "u16");
    this.#reserve(2);
    this.#view.setUint16(this.#length, v, le);
    this.#length += 2;
    return this;
  }

  #u32(v: number, le: boolean): this {
    checkRange(v, 0xffffffff, "u32");
    this.#reserve(4);
    this.#view.setUint32(this.#length, v, le);
    this.#length += 4;
    return this;
  }

  #u64(v: bigint, le: boolean): this {
    if (typeof v !== "bigint" || v < 0n || v > 0xffffffffffffffffn) {
      throw new BytesError("VALUE_OUT_OF_RANGE", "Cannot write u64", {
        expected: "a bigint in [0, 2^64)",
        actual: String(v),
      });
    }
    this.#reserve(8);
    this.#view.setBigUint64(this.#length, v, le);
    this.#length += 8;
    return this;
  }
}

function checkRange(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new BytesError("VALUE_OUT_OF_RANGE", `Cannot write ${what}`, {
      expected: `an integer in [0, ${max}]`,
      actual: String(v),
    });
  }
}
