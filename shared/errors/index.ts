/**
 * Coded errors shared by every Asterism module.
 *
 * Each domain declares a closed union of SCREAMING_SNAKE codes and a subclass of {@link AsterismError}
 * (house style §9). Messages say what was being done, what was expected and what came, so an operator can
 * act on them without reading code. Callers branch on `code`, never on the message.
 *
 * Secrets never go into `expected`/`actual`: these strings end up in logs and HTTP bodies.
 *
 * @module
 */

/** What a failing check expected and what it got; both are rendered into the message. */
export interface ErrorDetail {
  /** What the check wanted, e.g. `"32 bytes"` or `"TPM_GENERATED_VALUE (0xff544347)"`. */
  readonly expected?: string;
  /** What arrived, e.g. `"31 bytes"`; hex for binary data. Never a secret. */
  readonly actual?: string;
  /** The underlying error, kept for diagnosis. */
  readonly cause?: unknown;
}

/** The JSON shape every Asterism error serializes to (HTTP bodies, CLI `--json` output). */
export interface ErrorJson {
  readonly domain: string;
  readonly code: string;
  readonly message: string;
  readonly expected?: string;
  readonly actual?: string;
}

/**
 * Base class of every domain error. `domain` names the module ("codec", "tpm", "snp", …) and `code` is
 * one member of that domain's closed union.
 *
 * @example
 * type CodecErrorCode = "TRUNCATED" | "TRAILING_BYTES";
 * class CodecError extends AsterismError<CodecErrorCode> { override readonly domain = "codec"; }
 * throw new CodecError("TRUNCATED", "Cannot parse TPMS_ATTEST", { expected: "4 bytes", actual: "2 bytes" });
 */
export abstract class AsterismError<C extends string> extends Error {
  abstract readonly domain: string;
  readonly code: C;
  readonly action: string;
  readonly expected: string | undefined;
  readonly actual: string | undefined;

  constructor(code: C, action: string, detail: ErrorDetail = {}) {
    super(formatMessage(action, detail), detail.cause === undefined ? undefined : { cause: detail.cause });
    this.code = code;
    this.action = action;
    this.expected = detail.expected;
    this.actual = detail.actual;
    this.name = new.target.name;
  }

  /** The error as a plain object, safe to return to a client (no stack, no cause). */
  toJSON(): ErrorJson {
    return {
      domain: this.domain,
      code: this.code,
      message: this.message,
      ...(this.expected === undefined ? {} : { expected: this.expected }),
      ...(this.actual === undefined ? {} : { actual: this.actual }),
    };
  }
}

function formatMessage(action: string, { expected, actual }: ErrorDetail): string {
  if (expected === undefined && actual === undefined) return action;
  if (expected === undefined) return `${action}: got ${actual}`;
  if (actual === undefined) return `${action}: expected ${expected}`;
  return `${action}: expected ${expected}, got ${actual}`;
}

/** True when `err` is an Asterism error, optionally of the given domain and code. */
export function isAsterismError(err: unknown, domain?: string, code?: string): err is AsterismError<string> {
  if (!(err instanceof AsterismError)) return false;
  if (domain !== undefined && err.domain !== domain) return false;
  return code === undefined || err.code === code;
}

/**
 * Describe any thrown value in one line without leaking its stack or contents that were not meant for
 * display. Used where an unknown failure must be reported (CLI exit paths, 500 handlers).
 */
export function describeError(err: unknown): string {
  if (err instanceof AsterismError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `non-error thrown: ${typeof err}`;
}
