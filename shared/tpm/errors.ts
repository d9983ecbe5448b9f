import { AsterismError } from "@asterism/errors";
import type { DecodedRc } from "./rc.ts";

/**
 * Codes of errors a TPM command returns or a malformed response causes.
 * - `TPM_RC`: the TPM answered with a non-success response code (see `rc`).
 * - `RESPONSE_MALFORMED`: the response did not parse (wrong tag, size, trailing bytes).
 * - `INVALID_ARGUMENT`: a caller passed a value the command cannot carry.
 * - `UNSUPPORTED`: an algorithm or key type this module does not implement.
 */
export type TpmErrorCode = "TPM_RC" | "RESPONSE_MALFORMED" | "INVALID_ARGUMENT" | "UNSUPPORTED";

/** Raised by `execute` and the command helpers. `rc` is set for `TPM_RC`. */
export class TpmError extends AsterismError<TpmErrorCode> {
  override readonly domain = "tpm";
  readonly rc: DecodedRc | undefined;

  constructor(
    code: TpmErrorCode,
    action: string,
    detail: ConstructorParameters<typeof AsterismError>[2] & { rc?: DecodedRc } = {},
  ) {
    super(code, action, detail);
    this.rc = detail.rc;
  }

  /** True for format-0 warnings (TPM_RC_WARN, e.g. RETRY, TESTING): the command may succeed later. */
  get isWarning(): boolean {
    return this.rc?.warning === true;
  }
}

/**
 * Codes of transport failures.
 * - `CONNECT_FAILED`, `IO_FAILED`, `CLOSED`, `TIMEOUT`: the channel to the TPM broke.
 * - `FRAMING`: the response header was impossible (size below 10 or above the limit).
 * - `CTRL_FAILED`: swtpm's control channel refused a command (power on, shutdown).
 */
export type TransportErrorCode =
  | "CONNECT_FAILED"
  | "IO_FAILED"
  | "CLOSED"
  | "TIMEOUT"
  | "FRAMING"
  | "CTRL_FAILED";

/** Raised by TPM transports. */
export class TransportError extends AsterismError<TransportErrorCode> {
  override readonly domain = "tpm-transport";
}

/**
 * Codes of quote verification (authenticity) failures.
 * - `MALFORMED`: TPMS_ATTEST, TPMT_SIGNATURE or TPMT_PUBLIC does not parse.
 * - `NOT_TPM_GENERATED`: magic is not TPM_GENERATED_VALUE.
 * - `NOT_A_QUOTE`: TPMS_ATTEST.type is not TPM_ST_ATTEST_QUOTE.
 * - `AK_NOT_RESTRICTED_SIGNING`: the AK could sign arbitrary data, so its "quotes" prove nothing.
 * - `AK_NOT_FIXED_TPM`: the AK's private key may exist outside a TPM.
 * - `SCHEME_MISMATCH`: the signature's scheme or hash differs from the AK's fixed scheme.
 * - `UNSUPPORTED_ALGORITHM`: key type, curve, scheme or hash not supported.
 * - `SIGNATURE_INVALID`: the signature does not verify over the attestation bytes.
 * - `NONCE_MISMATCH`: extraData differs from the expected nonce.
 * - `PCR_SELECTION_MISMATCH`: the quote selects other PCRs than expected / supplied.
 * - `PCR_MISSING`: a quoted PCR has no supplied value.
 * - `PCR_DIGEST_MISMATCH`: the supplied PCR values do not hash to the quoted pcrDigest.
 */
export type QuoteErrorCode =
  | "MALFORMED"
  | "NOT_TPM_GENERATED"
  | "NOT_A_QUOTE"
  | "AK_NOT_RESTRICTED_SIGNING"
  | "AK_NOT_FIXED_TPM"
  | "SCHEME_MISMATCH"
  | "UNSUPPORTED_ALGORITHM"
  | "SIGNATURE_INVALID"
  | "NONCE_MISMATCH"
  | "PCR_SELECTION_MISMATCH"
  | "PCR_MISSING"
  | "PCR_DIGEST_MISMATCH";

/** Raised by {@link verifyQuote}. */
export class QuoteVerificationError extends AsterismError<QuoteErrorCode> {
  override readonly domain = "tpm-quote";
}

/**
 * Codes of event-log failures.
 * - `MALFORMED`: the log does not parse (truncation, impossible sizes, bad spec-ID event).
 * - `TRAILING_DATA`: bytes after the last event that are not allowed padding.
 * - `UNSUPPORTED_ALGORITHM`: a bank's hash cannot be computed.
 * - `REPLAY_MISMATCH`: replaying the log does not give the quoted PCR value.
 * - `BANK_MISSING`: the quoted bank is not in the log.
 * - `TOO_LARGE`: more events or bytes than the limits allow.
 */
export type EventLogErrorCode =
  | "MALFORMED"
  | "TRAILING_DATA"
  | "UNSUPPORTED_ALGORITHM"
  | "REPLAY_MISMATCH"
  | "BANK_MISSING"
  | "TOO_LARGE";

/** Raised by the event log parser and replay. */
export class EventLogError extends AsterismError<EventLogErrorCode> {
  override readonly domain = "tpm-eventlog";
}
