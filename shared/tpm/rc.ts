import { TpmError } from "./errors.ts";

/**
 * TPM_RC decoding, TPM 2.0 Library Part 2 §6.6 "TPM_RC (Response Codes)", Figure 2 (format-zero) and
 * Figure 3 (format-one). Codes are data: each maps to its spec name.
 */

/** Part 2 §6.6.3: RC_VER1 (0x100) format-zero errors. */
const VER1: Record<number, string> = {
  0: "INITIALIZE",
  1: "FAILURE",
  3: "SEQUENCE",
  11: "PRIVATE",
  25: "HMAC",
  32: "DISABLED",
  33: "EXCLUSIVE",
  36: "AUTH_TYPE",
  37: "AUTH_MISSING",
  38: "POLICY",
  39: "PCR",
  40: "PCR_CHANGED",
  45: "UPGRADE",
  46: "TOO_MANY_CONTEXTS",
  47: "AUTH_UNAVAILABLE",
  48: "REBOOT",
  49: "UNBALANCED",
  66: "COMMAND_SIZE",
  67: "COMMAND_CODE",
  68: "AUTHSIZE",
  69: "AUTH_CONTEXT",
  70: "NV_RANGE",
  71: "NV_SIZE",
  72: "NV_LOCKED",
  73: "NV_AUTHORIZATION",
  74: "NV_UNINITIALIZED",
  75: "NV_SPACE",
  76: "NV_DEFINED",
  80: "BAD_CONTEXT",
  81: "CPHASH",
  82: "PARENT",
  83: "NEEDS_TEST",
  84: "NO_RESULT",
  85: "SENSITIVE",
};

/** Part 2 §6.6.3: RC_FMT1 (0x080) format-one errors (carry a handle, parameter or session number). */
const FMT1: Record<number, string> = {
  1: "ASYMMETRIC",
  2: "ATTRIBUTES",
  3: "HASH",
  4: "VALUE",
  5: "HIERARCHY",
  7: "KEY_SIZE",
  8: "MGF",
  9: "MODE",
  10: "TYPE",
  11: "HANDLE",
  12: "KDF",
  13: "RANGE",
  14: "AUTH_FAIL",
  15: "NONCE",
  16: "PP",
  18: "SCHEME",
  21: "SIZE",
  22: "SYMMETRIC",
  23: "TAG",
  24: "SELECTOR",
  26: "INSUFFICIENT",
  27: "SIGNATURE",
  28: "KEY",
  29: "POLICY_FAIL",
  31: "INTEGRITY",
  32: "TICKET",
  33: "RESERVED_BITS",
  34: "BAD_AUTH",
  35: "EXPIRED",
  36: "POLICY_CC",
  37: "BINDING",
  38: "CURVE",
  39: "ECC_POINT",
};

/** Part 2 §6.6.3: RC_WARN (0x900) format-zero warnings. */
const WARN: Record<number, string> = {
  1: "CONTEXT_GAP",
  2: "OBJECT_MEMORY",
  3: "SESSION_MEMORY",
  4: "MEMORY",
  5: "SESSION_HANDLES",
  6: "OBJECT_HANDLES",
  7: "LOCALITY",
  8: "YIELDED",
  9: "CANCELED",
  10: "TESTING",
  16: "REFERENCE_H0",
  17: "REFERENCE_H1",
  18: "REFERENCE_H2",
  19: "REFERENCE_H3",
  20: "REFERENCE_H4",
  21: "REFERENCE_H5",
  22: "REFERENCE_H6",
  24: "REFERENCE_S0",
  25: "REFERENCE_S1",
  26: "REFERENCE_S2",
  27: "REFERENCE_S3",
  28: "REFERENCE_S4",
  29: "REFERENCE_S5",
  30: "REFERENCE_S6",
  32: "NV_RATE",
  33: "LOCKOUT",
  34: "RETRY",
  35: "NV_UNAVAILABLE",
};

/** A response code taken apart. `name` is the spec's TPM_RC_* suffix, e.g. `AUTH_FAIL`. */
export interface DecodedRc {
  readonly raw: number;
  /** The code with handle/parameter/session number stripped, e.g. 0x08e for any AUTH_FAIL. */
  readonly base: number;
  readonly name: string;
  readonly format: 0 | 1;
  readonly warning: boolean;
  /** Vendor-defined (TPM_RC T bit) or TPM 1.2 codes have no spec name. */
  readonly vendor: boolean;
  /** Format-one codes name what was wrong: the n-th handle, parameter or session (1-based). */
  readonly subject?: { readonly kind: "handle" | "parameter" | "session"; readonly index: number };
}

/** Part 2 §6.6.3 named constants of the base codes, for {@link isTpmRc}. */
export const TPM_RC = {
  SUCCESS: 0x000,
  INITIALIZE: 0x100,
  FAILURE: 0x101,
  PCR_CHANGED: 0x128,
  AUTH_FAIL: 0x08e,
  BAD_AUTH: 0x0a2,
  HANDLE: 0x08b,
  VALUE: 0x084,
  RETRY: 0x922,
  TESTING: 0x90a,
  OBJECT_MEMORY: 0x902,
  NV_UNINITIALIZED: 0x14a,
  NV_DEFINED: 0x14c,
  TYPE: 0x08a,
  SIZE: 0x095,
} as const;

/**
 * Decode a response code per Part 2 §6.6 Figure 2/3: bit 7 selects format one; in format one, bit 6
 * says parameter (number in bits 11:8) and otherwise bits 11:8 are a handle (1..7) or session (8..15).
 *
 * @example decodeRc(0x9a2).name === "BAD_AUTH" // session 1
 */
export function decodeRc(raw: number): DecodedRc {
  if (raw & 0x080) {
    const base = (raw & 0x03f) | 0x080;
    const n = (raw >>> 8) & 0xf;
    const name = FMT1[raw & 0x03f] ?? `FMT1_0x${(raw & 0x3f).toString(16)}`;
    let subject: DecodedRc["subject"];
    if (raw & 0x040) subject = { kind: "parameter", index: n };
    // TPM_RC_S (0x800) + TPM_RC_1..7: sessions are numbered from 1, so N = 9..15.
    else if (n >= 8) subject = { kind: "session", index: n - 8 };
    else if (n > 0) subject = { kind: "handle", index: n };
    return {
      raw,
      base,
      name,
      format: 1,
      warning: false,
      vendor: false,
      ...(subject ? { subject } : {}),
    };
  }
  const vendor = (raw & 0x400) !== 0 || (raw & 0x100) === 0;
  const warning = (raw & 0x900) === 0x900;
  const table = warning ? WARN : VER1;
  const base = raw & 0xfff;
  const known = vendor ? undefined : table[raw & 0x07f];
  return {
    raw,
    base,
    name: known ?? `0x${raw.toString(16).padStart(3, "0")}`,
    format: 0,
    warning,
    vendor,
  };
}

/** Render a decoded code like `TPM_RC_BAD_AUTH (0x9a2, session 1)`. */
export function describeRc(rc: DecodedRc): string {
  const where = rc.subject ? `, ${rc.subject.kind} ${rc.subject.index}` : "";
  return `TPM_RC_${rc.name} (0x${rc.raw.toString(16)}${where})`;
}

/** True when `err` is a TPM response code whose base code equals `base` (e.g. {@link TPM_RC}.RETRY). */
export function isTpmRc(err: unknown, base: number): boolean {
  return err instanceof TpmError && err.rc !== undefined && err.rc.base === base;
}
