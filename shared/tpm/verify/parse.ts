import { CodecError, decode } from "@asterism/codec";
import { QuoteVerificationError } from "../errors.ts";
import { TPMS_ATTEST } from "../structures/attest.ts";
import { type TPMT_PUBLIC, TPMT_PUBLIC as TPMT_PUBLIC_CODEC } from "../structures/public.ts";

/** Run a parser and turn its CodecError into QuoteVerificationError `MALFORMED` (verify-stage errors). */
export function parseOrMalformed<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof CodecError)
      throw new QuoteVerificationError("MALFORMED", `Cannot parse ${what}`, {
        actual: err.message,
        cause: err,
      });
    throw err;
  }
}

/** Parse TPMT_PUBLIC bytes (rejects trailing bytes, unknown types and reserved attribute bits). */
export function parseTpmtPublic(bytes: Uint8Array): TPMT_PUBLIC {
  return decode(TPMT_PUBLIC_CODEC, bytes);
}

/** Parse TPMS_ATTEST bytes. */
export function parseTpmsAttest(bytes: Uint8Array): TPMS_ATTEST {
  return decode(TPMS_ATTEST, bytes);
}
