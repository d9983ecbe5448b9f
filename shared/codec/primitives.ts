import type { ByteReader, ByteWriter } from "@asterism/bytes";
import { type Codec, type CodecContext, fail, hexPreview, type Skip } from "./codec.ts";

function int(
  name: string,
  size: number,
  read: (r: ByteReader) => number,
  write: (w: ByteWriter, v: number) => void,
): Codec<number> {
  const max = 2 ** (size * 8) - 1;
  return {
    name,
    fixedSize: size,
    read,
    write(w, v, ctx) {
      if (!Number.isInteger(v) || v < 0 || v > max)
        fail(ctx, "INVALID_VALUE", `Cannot write ${name}`, `[0, ${max}]`, String(v));
      write(w, v);
    },
  };
}

/** UINT8. */
export const u8 = int(
  "UINT8",
  1,
  (r) => r.u8(),
  (w, v) => w.u8(v),
);
/** UINT16, big-endian (TPM byte order). */
export const u16 = int(
  "UINT16",
  2,
  (r) => r.u16be(),
  (w, v) => w.u16be(v),
);
/** UINT32, big-endian (TPM byte order). */
export const u32 = int(
  "UINT32",
  4,
  (r) => r.u32be(),
  (w, v) => w.u32be(v),
);
/** UINT16, little-endian (AMD and Intel structures). */
export const u16le = int(
  "UINT16LE",
  2,
  (r) => r.u16le(),
  (w, v) => w.u16le(v),
);
/** UINT32, little-endian (AMD and Intel structures). */
export const u32le = int(
  "UINT32LE",
  4,
  (r) => r.u32le(),
  (w, v) => w.u32le(v),
);

function int64(name: string, le: boolean): Codec<bigint> {
  return {
    name,
    fixedSize: 8,
    read: (r) => (le ? r.u64le() : r.u64be()),
    write(w, v, ctx) {
      if (typeof v !== "bigint" || v < 0n || v > 0xffffffffffffffffn)
        fail(ctx, "INVALID_VALUE", `Cannot write ${name}`, "a bigint in [0, 2^64)", String(v));
      if (le) w.u64le(v);
      else w.u64be(v);
    },
  };
}

/** UINT64, big-endian, as bigint. */
export const u64 = int64("UINT64", false);
/** UINT64, little-endian, as bigint. */
export const u64le = int64("UINT64LE", true);

/** A fixed-size byte string (BYTE[n]). */
export function bytes(n: number, name = `BYTE[${n}]`): Codec<Uint8Array> {
  return {
    name,
    fixedSize: n,
    read: (r) => r.bytes(n),
    write(w, v, ctx) {
      if (!(v instanceof Uint8Array) || v.length !== n) {
        fail(
          ctx,
          "SIZE_MISMATCH",
          `Cannot write ${name}`,
          `${n} bytes`,
          v instanceof Uint8Array ? `${v.length} bytes` : typeof v,
        );
      }
      w.bytes(v);
    },
  };
}

/**
 * A must-be-zero range of `n` bytes. Parsing rejects any non-zero byte (`RESERVED_NONZERO`); serializing
 * writes zeros. The field has no value in the parsed object.
 */
export function reserved(n: number): Codec<Skip> {
  return {
    name: `RESERVED[${n}]`,
    fixedSize: n,
    read(r, ctx) {
      const start = r.offset;
      const b = r.view(n);
      for (let i = 0; i < n; i++) {
        if (b[i] !== 0) {
          fail(
            ctx,
            "RESERVED_NONZERO",
            `Reserved range [0x${start.toString(16)}:0x${(start + n).toString(16)}] is not zero`,
            "all zero bytes",
            hexPreview(b),
          );
        }
      }
      return undefined as unknown as Skip;
    },
    write(w) {
      w.bytes(new Uint8Array(n));
    },
  };
}

/** A field whose value is fixed by the spec (magic numbers, versions): any other value is rejected. */
export function constant<T extends number | bigint>(inner: Codec<T>, value: T, name = inner.name): Codec<T> {
  const show = (v: T) => `0x${v.toString(16)}`;
  return {
    name,
    fixedSize: inner.fixedSize,
    read(r, ctx) {
      const v = inner.read(r, ctx);
      if (v !== value) fail(ctx, "CONSTANT_MISMATCH", `Unexpected ${name}`, show(value), show(v));
      return v;
    },
    write(w, _v, ctx) {
      inner.write(w, value, ctx);
    },
  };
}

/** A value with no bytes on the wire (e.g. the TPM_ALG_NULL arm of a union). */
export const empty: Codec<null> = {
  name: "EMPTY",
  fixedSize: 0,
  read: () => null,
  write() {},
};

/** Parse with `inner`, then reject values for which `ok` is false (enumerations, ranges). */
export function refine<T>(
  inner: Codec<T>,
  ok: (v: T) => boolean,
  expected: string,
  name = inner.name,
): Codec<T> {
  return {
    name,
    fixedSize: inner.fixedSize,
    read(r, ctx) {
      const v = inner.read(r, ctx);
      if (!ok(v)) fail(ctx, "INVALID_VALUE", `Unexpected ${name}`, expected, String(v));
      return v;
    },
    write(w, v, ctx) {
      if (!ok(v)) fail(ctx, "INVALID_VALUE", `Cannot write ${name}`, expected, String(v));
      inner.write(w, v, ctx);
    },
  };
}

/** Change a field's in-memory representation without changing its bytes. */
export function transform<A, B>(
  inner: Codec<A>,
  to: (a: A) => B,
  from: (b: B) => A,
  name = inner.name,
): Codec<B> {
  return {
    name,
    fixedSize: inner.fixedSize,
    read: (r, ctx) => to(inner.read(r, ctx)),
    write: (w, v, ctx: CodecContext) => inner.write(w, from(v), ctx),
  };
}
