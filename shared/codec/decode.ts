import { ByteReader, BytesError, ByteWriter } from "@asterism/bytes";
import type { Codec, CodecContext } from "./codec.ts";
import { CodecError } from "./errors.ts";

/** Options of {@link decode}. */
export interface DecodeOptions {
  /**
   * Accept bytes after the structure. Off by default: trailing data is how parser differentials and
   * smuggled payloads hide. Turn it on only where the format says so, and say why at the call site.
   */
  readonly allowTrailing?: boolean;
}

function newContext(): CodecContext {
  return { path: [], parent: undefined };
}

function wrap(err: unknown, ctx: CodecContext, name: string): never {
  if (err instanceof CodecError) throw err;
  if (err instanceof BytesError && err.code === "OUT_OF_BOUNDS") {
    throw new CodecError("TRUNCATED", ctx.path.join(".") || name, `Cannot parse ${name}: input ends early`, {
      ...(err.expected === undefined ? {} : { expected: err.expected }),
      ...(err.actual === undefined ? {} : { actual: err.actual }),
      cause: err,
    });
  }
  if (err instanceof BytesError) {
    throw new CodecError("INVALID_VALUE", ctx.path.join(".") || name, `Cannot process ${name}`, {
      cause: err,
    });
  }
  throw err;
}

/**
 * Parse `bytes` as `codec`. Throws only {@link CodecError}; rejects trailing bytes unless allowed.
 *
 * @example
 * const attest = decode(TPMS_ATTEST, quoteBytes);
 */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array, opts: DecodeOptions = {}): T {
  const { value, rest } = decodePrefix(codec, bytes);
  if (rest.length !== 0 && !opts.allowTrailing) {
    throw new CodecError("TRAILING_BYTES", codec.name, `Cannot parse ${codec.name}: invalid trailing data`, {
      expected: `${bytes.length - rest.length} bytes`,
      actual: `${bytes.length} bytes (${rest.length} trailing)`,
    });
  }
  return value;
}

/** Parse a `codec` from the start of `bytes` and return what follows it. */
export function decodePrefix<T>(
  codec: Codec<T>,
  bytes: Uint8Array,
): { value: T; rest: Uint8Array; consumed: number } {
  const ctx = newContext();
  const r = new ByteReader(bytes);
  try {
    const value = codec.read(r, ctx);
    const consumed = r.offset;
    return { value, rest: r.rest(), consumed };
  } catch (err) {
    return wrap(err, ctx, codec.name);
  }
}

/** Serialize `value` with `codec`. Throws {@link CodecError} `INVALID_VALUE`/`SIZE_*` for values that do not fit. */
export function encode<T>(codec: Codec<T>, value: T): Uint8Array {
  const ctx = newContext();
  const w = new ByteWriter();
  try {
    codec.write(w, value, ctx);
  } catch (err) {
    wrap(err, ctx, codec.name);
  }
  return w.finish();
}
