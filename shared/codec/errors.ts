import { AsterismError } from "@asterism/errors";

/**
 * Codes raised while parsing or serializing a field table.
 * - `TRUNCATED`: the input ended inside a field.
 * - `TRAILING_BYTES`: bytes left after the structure where none were allowed.
 * - `RESERVED_NONZERO`: a must-be-zero byte or bit was set.
 * - `CONSTANT_MISMATCH`: a magic/check field had another value.
 * - `UNKNOWN_TAG`: a union selector had no case.
 * - `SIZE_LIMIT`: a length or count exceeded the table's limit.
 * - `SIZE_MISMATCH`: a sized region was not consumed exactly, or a value had the wrong length.
 * - `INVALID_VALUE`: a value handed to the serializer does not fit its field.
 */
export type CodecErrorCode =
  | "TRUNCATED"
  | "TRAILING_BYTES"
  | "RESERVED_NONZERO"
  | "CONSTANT_MISMATCH"
  | "UNKNOWN_TAG"
  | "SIZE_LIMIT"
  | "SIZE_MISMATCH"
  | "INVALID_VALUE";

/** Raised by {@link decode} and {@link encode}; `path` names the field, e.g. `TPMS_ATTEST.extraData`. */
export class CodecError extends AsterismError<CodecErrorCode> {
  override readonly domain = "codec";
  readonly path: string;

  constructor(
    code: CodecErrorCode,
    path: string,
    action: string,
    detail: ConstructorParameters<typeof AsterismError>[2] = {},
  ) {
    super(code, `${action} at ${path}`, detail);
    this.path = path;
  }
}
