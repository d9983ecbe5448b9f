import { type ByteReader, type ByteWriter, toHex } from "@asterism/bytes";
import { CodecError } from "./errors.ts";

/**
 * State threaded through one parse or serialization: the field path (for error messages) and the
 * enclosing structure's values so far (for unions and lengths chosen by a sibling field).
 */
export interface CodecContext {
  readonly path: string[];
  parent: Record<string, unknown> | undefined;
}

/**
 * One entry of a field table. The same object drives parsing and serialization, so the two can never
 * disagree (house style §4). `fixedSize` is set when the encoding always has the same length.
 *
 * `write` is declared as a method so that `Codec<number>` is assignable to `Codec<unknown>` in tables.
 */
export interface Codec<T> {
  /** The spec's name for the type, e.g. `UINT32` or `TPMS_ATTEST`. */
  readonly name: string;
  readonly fixedSize: number | undefined;
  read(r: ByteReader, ctx: CodecContext): T;
  write(w: ByteWriter, value: T, ctx: CodecContext): void;
}

/** The value type a codec parses to. */
export type Infer<C> = C extends Codec<infer T> ? T : never;

/** Marker type of fields that exist on the wire only (reserved ranges): they have no value. */
export declare const SKIP: unique symbol;
export type Skip = typeof SKIP;

export function pathOf(ctx: CodecContext): string {
  return ctx.path.join(".") || "<root>";
}

export function fail(
  ctx: CodecContext,
  code: ConstructorParameters<typeof CodecError>[0],
  action: string,
  expected?: string,
  actual?: string,
): never {
  throw new CodecError(code, pathOf(ctx), action, {
    ...(expected === undefined ? {} : { expected }),
    ...(actual === undefined ? {} : { actual }),
  });
}

/** Short hex preview of possibly long binary data for error messages. */
export function hexPreview(b: Uint8Array, max = 32): string {
  return b.length <= max ? `"${toHex(b)}"` : `"${toHex(b.subarray(0, max))}…" (${b.length} bytes)`;
}
