import { ByteReader, ByteWriter } from "@asterism/bytes";
import { type Codec, type CodecContext, fail, type Infer, type Skip } from "./codec.ts";

// biome-ignore lint/suspicious/noExplicitAny: the widest codec type, needed for table constraints.
type AnyCodec = Codec<any>;
type Fields = Record<string, AnyCodec>;

/** The parsed object of a field table: every field but the reserved ones. */
export type StructValue<F extends Fields> = {
  [K in keyof F as Infer<F[K]> extends Skip ? never : K]: Infer<F[K]>;
};

/**
 * A structure: fields in wire order, as the spec's table lists them. Unions and sibling-sized fields
 * see the values parsed before them.
 *
 * @example
 * const TPMS_CLOCK_INFO = struct("TPMS_CLOCK_INFO", { clock: u64, resetCount: u32, restartCount: u32, safe: u8 });
 */
export function struct<F extends Fields>(name: string, fields: F): Codec<StructValue<F>> {
  const entries = Object.entries(fields);
  let fixed: number | undefined = 0;
  for (const [, c] of entries)
    fixed = fixed === undefined || c.fixedSize === undefined ? undefined : fixed + c.fixedSize;
  return {
    name,
    fixedSize: fixed,
    read(r, ctx) {
      const out: Record<string, unknown> = {};
      const saved = ctx.parent;
      ctx.parent = out;
      ctx.path.push(name);
      for (const [key, codec] of entries) {
        ctx.path.push(key);
        const v = codec.read(r, ctx);
        ctx.path.pop();
        if (v !== undefined) out[key] = v;
      }
      ctx.path.pop();
      ctx.parent = saved;
      return out as StructValue<F>;
    },
    write(w, value, ctx) {
      if (typeof value !== "object" || value === null)
        fail(ctx, "INVALID_VALUE", `Cannot write ${name}`, "an object", typeof value);
      const saved = ctx.parent;
      ctx.parent = value as Record<string, unknown>;
      ctx.path.push(name);
      for (const [key, codec] of entries) {
        ctx.path.push(key);
        codec.write(w, (value as Record<string, unknown>)[key], ctx);
        ctx.path.pop();
      }
      ctx.path.pop();
      ctx.parent = saved;
    },
  };
}

/** A codec placed at a fixed offset of a fixed-offset layout (see {@link layout}). */
export interface Placed<T> extends Codec<T> {
  readonly offset: number;
}

/** Place `codec` at `offset` bytes from the start of its layout. */
export function at<T>(offset: number, codec: Codec<T>): Placed<T> {
  return { ...codec, read: codec.read, write: codec.write, offset };
}

/**
 * A fixed-offset format (SNP report, TDX quote header): every field carries the offset the spec gives it,
 * and the table is checked when it is defined to cover `[0, size)` with no gap and no overlap, so a
 * forgotten reserved range is a programming error, not a silent skip (house style §5).
 *
 * @example
 * const HEADER = layout("HEADER", 8, { version: at(0, u32le), reserved0: at(4, reserved(4)) });
 */
export function layout<F extends Record<string, Placed<unknown>>>(
  name: string,
  size: number,
  fields: F,
): Codec<StructValue<F>> {
  let expectOffset = 0;
  for (const [key, c] of Object.entries(fields)) {
    if (c.fixedSize === undefined) throw new Error(`layout ${name}: field ${key} has no fixed size`);
    if (c.offset !== expectOffset) {
      throw new Error(
        `layout ${name}: field ${key} at 0x${c.offset.toString(16)}, expected 0x${expectOffset.toString(16)}`,
      );
    }
    expectOffset += c.fixedSize;
  }
  if (expectOffset !== size)
    throw new Error(
      `layout ${name}: fields cover 0x${expectOffset.toString(16)} bytes, expected 0x${size.toString(16)}`,
    );
  return struct(name, fields);
}

/**
 * A length-prefixed byte string (the TPM2B pattern: `size` then `buffer`). `max` bounds the length an
 * attacker can claim before anything is allocated.
 */
export function sized(lengthCodec: Codec<number>, opts: { max: number; name?: string }): Codec<Uint8Array> {
  const name = opts.name ?? `SIZED_BUFFER<${lengthCodec.name}>`;
  return {
    name,
    fixedSize: undefined,
    read(r, ctx) {
      const n = lengthCodec.read(r, ctx);
      if (n > opts.max)
        fail(ctx, "SIZE_LIMIT", `Size of ${name} too large`, `at most ${opts.max}`, String(n));
      return r.bytes(n);
    },
    write(w, v, ctx) {
      if (!(v instanceof Uint8Array)) fail(ctx, "INVALID_VALUE", `Cannot write ${name}`, "bytes", typeof v);
      if (v.length > opts.max)
        fail(ctx, "SIZE_LIMIT", `Cannot write ${name}`, `at most ${opts.max} bytes`, `${v.length} bytes`);
      lengthCodec.write(w, v.length, ctx);
      w.bytes(v);
    },
  };
}

/**
 * A length-prefixed structure (TPM2B_PUBLIC, TPM2B_ATTEST): the inner codec must consume exactly the
 * declared size, no more and no less.
 */
export function sizedOf<T>(
  lengthCodec: Codec<number>,
  inner: Codec<T>,
  opts: { max: number; name?: string },
): Codec<T> {
  const name = opts.name ?? `SIZED<${inner.name}>`;
  const buf = sized(lengthCodec, { max: opts.max, name });
  return {
    name,
    fixedSize: undefined,
    read(r, ctx) {
      const body = buf.read(r, ctx);
      const sub = new ByteReader(body);
      const v = inner.read(sub, ctx);
      if (sub.remaining !== 0)
        fail(
          ctx,
          "SIZE_MISMATCH",
          `${name} not consumed exactly`,
          `${body.length} bytes used`,
          `${sub.remaining} bytes left over`,
        );
      return v;
    },
    write(w, v, ctx) {
      buf.write(w, encodeWith(inner, v, ctx), ctx);
    },
  };
}

/** A fixed-count array (`T[n]`). */
export function array<T>(item: Codec<T>, count: number, name = `${item.name}[${count}]`): Codec<T[]> {
  return {
    name,
    fixedSize: item.fixedSize === undefined ? undefined : item.fixedSize * count,
    read(r, ctx) {
      const out: T[] = [];
      for (let i = 0; i < count; i++) {
        ctx.path.push(String(i));
        out.push(item.read(r, ctx));
        ctx.path.pop();
      }
      return out;
    },
    write(w, v, ctx) {
      if (!Array.isArray(v) || v.length !== count)
        fail(
          ctx,
          "SIZE_MISMATCH",
          `Cannot write ${name}`,
          `${count} items`,
          Array.isArray(v) ? `${v.length} items` : typeof v,
        );
      v.forEach((x, i) => {
        ctx.path.push(String(i));
        item.write(w, x, ctx);
        ctx.path.pop();
      });
    },
  };
}

/** A counted list (the TPML pattern: `count` then `count` items), bounded by `max`. */
export function list<T>(
  countCodec: Codec<number>,
  item: Codec<T>,
  opts: { max: number; name?: string },
): Codec<T[]> {
  const name = opts.name ?? `LIST<${item.name}>`;
  return {
    name,
    fixedSize: undefined,
    read(r, ctx) {
      const n = countCodec.read(r, ctx);
      if (n > opts.max)
        fail(ctx, "SIZE_LIMIT", `Count of ${name} too large`, `at most ${opts.max}`, String(n));
      return array(item, n, name).read(r, ctx);
    },
    write(w, v, ctx) {
      if (!Array.isArray(v)) fail(ctx, "INVALID_VALUE", `Cannot write ${name}`, "an array", typeof v);
      if (v.length > opts.max)
        fail(ctx, "SIZE_LIMIT", `Cannot write ${name}`, `at most ${opts.max} items`, `${v.length} items`);
      countCodec.write(w, v.length, ctx);
      array(item, v.length, name).write(w, v, ctx);
    },
  };
}

/** Bytes whose length is a sibling field parsed earlier (`sizeField`), bounded by `max`. */
export function bytesBy(sizeField: string, opts: { max: number; name?: string }): Codec<Uint8Array> {
  const name = opts.name ?? `BYTE[${sizeField}]`;
  const sizeOf = (ctx: CodecContext): number => {
    const n = ctx.parent?.[sizeField];
    if (typeof n !== "number")
      fail(ctx, "INVALID_VALUE", `Length field ${sizeField} missing`, "a number", typeof n);
    return n;
  };
  return {
    name,
    fixedSize: undefined,
    read(r, ctx) {
      const n = sizeOf(ctx);
      if (n > opts.max)
        fail(ctx, "SIZE_LIMIT", `Size of ${name} too large`, `at most ${opts.max}`, String(n));
      return r.bytes(n);
    },
    write(w, v, ctx) {
      const n = sizeOf(ctx);
      if (!(v instanceof Uint8Array) || v.length !== n)
        fail(
          ctx,
          "SIZE_MISMATCH",
          `Cannot write ${name}`,
          `${n} bytes (${sizeField})`,
          v instanceof Uint8Array ? `${v.length} bytes` : typeof v,
        );
      w.bytes(v);
    },
  };
}

/**
 * A tagged union whose arm is selected by a sibling field parsed earlier (`tagField`), as TPMU_* unions
 * are selected by their TPMT's type. An unknown selector is `UNKNOWN_TAG`, never a guess.
 */
export function union<C extends Record<number, AnyCodec>>(
  tagField: string,
  cases: C,
  name = `UNION<${tagField}>`,
): Codec<Infer<C[keyof C]>> {
  const pick = (ctx: CodecContext): AnyCodec => {
    const tag = ctx.parent?.[tagField];
    const c = typeof tag === "number" ? cases[tag] : undefined;
    if (c === undefined) {
      const known = Object.keys(cases)
        .map((k) => `0x${Number(k).toString(16)}`)
        .join(", ");
      fail(
        ctx,
        "UNKNOWN_TAG",
        `No ${name} arm for ${tagField}`,
        `one of ${known}`,
        typeof tag === "number" ? `0x${tag.toString(16)}` : String(tag),
      );
    }
    return c;
  };
  return {
    name,
    fixedSize: undefined,
    read: (r, ctx) => pick(ctx).read(r, ctx),
    write: (w, v, ctx) => pick(ctx).write(w, v, ctx),
  };
}

/** Bit positions `[msb, lsb]` inclusive, counted from bit 0 = least significant. */
export type BitRange = readonly [msb: number, lsb: number];

/**
 * Bit fields packed into an integer (TPMA_OBJECT, SNP guest policy). Every bit not named and not listed
 * in `allowUnnamed` must be zero, so a newer spec's flags are noticed instead of ignored.
 */
export function bits<B extends number | bigint, F extends Record<string, BitRange>>(
  base: Codec<B>,
  fields: F,
  opts: { name?: string; allowUnnamed?: bigint } = {},
): Codec<{ [K in keyof F]: number }> {
  const name = opts.name ?? `BITS<${base.name}>`;
  const width = BigInt((base.fixedSize ?? 8) * 8);
  let named = 0n;
  const spec = Object.entries(fields).map(([k, [msb, lsb]]) => {
    const mask = ((1n << BigInt(msb - lsb + 1)) - 1n) << BigInt(lsb);
    named |= mask;
    return { k, lsb: BigInt(lsb), mask };
  });
  const mustBeZero = ((1n << width) - 1n) & ~named & ~(opts.allowUnnamed ?? 0n);
  return {
    name,
    fixedSize: base.fixedSize,
    read(r, ctx) {
      const raw = BigInt(base.read(r, ctx));
      if ((raw & mustBeZero) !== 0n) {
        fail(
          ctx,
          "RESERVED_NONZERO",
          `Reserved bits of ${name} set`,
          `mask 0x${mustBeZero.toString(16)} clear`,
          `0x${raw.toString(16)}`,
        );
      }
      const out: Record<string, number> = {};
      for (const s of spec) out[s.k] = Number((raw & s.mask) >> s.lsb);
      return out as { [K in keyof F]: number };
    },
    write(w, v, ctx) {
      let raw = 0n;
      for (const s of spec) {
        const x = BigInt((v as Record<string, number>)[s.k] ?? 0);
        if ((x << s.lsb) & ~s.mask)
          fail(
            ctx,
            "INVALID_VALUE",
            `Bit field ${s.k} of ${name} too wide`,
            `fits mask 0x${s.mask.toString(16)}`,
            String(x),
          );
        raw |= x << s.lsb;
      }
      // 64-bit bases (u64/u64le) hold bigints; narrower ones hold numbers.
      base.write(w, (width > 32n ? raw : Number(raw)) as B, ctx);
    },
  };
}

/** Serialize `v` with `codec` inside an ongoing serialization (keeps the error path). */
export function encodeWith<T>(codec: Codec<T>, v: T, ctx: CodecContext): Uint8Array {
  const w = new ByteWriter();
  codec.write(w, v, ctx);
  return w.finish();
}
