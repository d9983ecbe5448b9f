import { AsterismError } from "@asterism/errors";

/** Codes raised by the byte primitives. */
export type BytesErrorCode = "OUT_OF_BOUNDS" | "INVALID_HEX" | "INVALID_BASE64" | "VALUE_OUT_OF_RANGE";

/** A read past the end, a malformed text encoding or a value that does not fit its field. */
export class BytesError extends AsterismError<BytesErrorCode> {
  override readonly domain = "bytes";
}
