/**
 * Declarative field tables for binary structures. One table drives both parse and serialize, so the two
 * never drift apart (house style §4–§7). Every length and count has a limit; trailing bytes are rejected
 * unless the caller says otherwise; reserved ranges and bits must be zero.
 *
 * @example
 * import { decode, encode, struct, u16, u32, sized } from "@asterism/codec";
 * const TPM2B_DIGEST = sized(u16, { max: 64, name: "TPM2B_DIGEST" });
 * const Example = struct("EXAMPLE", { tag: u16, size: u32, digest: TPM2B_DIGEST });
 * const v = decode(Example, bytes); // { tag, size, digest }
 * encode(Example, v);               // the same bytes again
 *
 * @module
 */
export type { Codec, CodecContext, Infer, Skip } from "./codec.ts";
export {
  array,
  at,
  type BitRange,
  bits,
  bytesBy,
  layout,
  list,
  type Placed,
  type StructValue,
  sized,
  sizedOf,
  struct,
  union,
} from "./composite.ts";
export { type DecodeOptions, decode, decodePrefix, encode } from "./decode.ts";
export { CodecError, type CodecErrorCode } from "./errors.ts";
export {
  bytes,
  constant,
  empty,
  refine,
  reserved,
  transform,
  u8,
  u16,
  u16le,
  u32,
  u32le,
  u64,
  u64le,
} from "./primitives.ts";
