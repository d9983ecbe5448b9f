import { TpmError } from "./errors.ts";

/**
 * TPM_RC decoding, TPM 2.0 Library Part 2 §6.6 "TPM_RC (Response Codes)", Figure 2 (format-zero) and
 * Figure 3 (format-one). Codes are data: each maps to its spec name.
 */

/** Part 2 §6.6.3: RC_VER1 (0x100) format-zero errors. */
const VER1: Record<number, string> = {
  0x000: "INITIALIZE",
  0x001: "FAILURE",
  0x003: "SEQUENCE",
  0x00b: "PRIVATE",
  0x019: "HMAC",
  0x020: "DISABLED",
  0x021: "EXCLUSIVE",
  0x024: "AUTH_TYPE",
  0x025: "AUTH_MISSING",
  0x026: "POLICY",
  0x027: "PCR",
  0x028: "PCR_CHANGED",
  0x02d: "UPGRADE",
  0x02e: "TOO_MANY_CONTEXTS",
  0x02f: "AUTH_UNAVAILABLE",
  0x030: "REBOOT",
  0x031: "UNBALANCED",
  0x042: "COMMAND_SIZE",
  0x043: "COMMAND_CODE",
  0x044: "AUTHSIZE",
  0x045: "AUTH_CONTEXT",
  0x046: "NV_RANGE",
  0x047: "NV_SIZE",
  0x048: "NV_LOCKED",
  0x049: "NV_AUTHORIZATION",
  0x04a: "NV_UNINITIALIZED",
  0x04b: "NV_SPACE",
  0x04c: "NV_DEFINED",
  0x050: "BAD_CONTEXT",
  0x051: "CPHASH",
  0x052: "PARENT",
  0x053: "NEEDS_TEST",
  0x054: "NO_RESULT",
  0x055: "SENSITIVE",
};

/** Part 2 §6.6.3: RC_FMT1 (0x080) format-one errors (carry a handle, parameter or session number). */
const FMT1: Record<number, string> = {
  0x001: "ASYMMETRIC",
  0x002: "ATTRIBUTES",
  0x003: "HASH",
  0x004: "VALUE",
  0x005: "HIERARCHY",
  0x007: "KEY_SIZE",
  0x008: "MGF",
  0x009: "MODE",
  0x00a: "TYPE",
  0x00b: "HANDLE",
  0x00c: "KDF",
  0x00d: "RANGE",
  0x00e: "AUTH_FAIL",
  0x00f: "NONCE",
  0x010: "PP",
  0x012: "SCHEME",
  0x015: "SIZE",
  0x016: "SYMMETRIC",
  0x017: "TAG",
  0x018: "SELECTOR",
  0x01a: "INSUFFICIENT",
  0x01b: "SIGNATURE",
  0x01c: "KEY",
  0x01d: "POLICY_FAIL",
  0x01f: "INTEGRITY",
  0x020: "TICKET",
  0x021: "RESERVED_BITS",
  0x022: "BAD_AUTH",
  0x023: "EXPIRED",
  0x024: "POLICY_CC",
  0x025: "BINDING",
  0x026: "CURVE",
  0x027: "ECC_POINT",
};

/** Part 2 §6.6.3: RC_WARN (0x900) format-zero warnings. */
const WARN: Record<number, string> = {
  0x001: "CONTEXT_GAP",
  0x002: "OBJECT_MEMORY",
  0x003: "SESSION_MEMORY",
  0x004: "MEMORY",
  0x005: "SESSION_HANDLES",
  0x006: "OBJECT_HANDLES",
  0x007: "LOCALITY",
  0x008: "YIELDED",
  0x009: "CANCELED",
  0x00a: "TESTING",
  0x010: "REFERENCE_H0",
  0x011: "REFERENCE_H1",
  0x012: "REFERENCE_H2",
  0x013: "REFERENCE_H3",
  0x014: "REFERENCE_H4",
  0x015: "REFERENCE_H5",
  0x016: "REFERENCE_H6",
  0x018: "REFERENCE_S0",
  0x019: "REFERENCE_S1",
  0x01a: "REFERENCE_S2",
  0x01b: "REFERENCE_S3",
  0x01c: "REFERENCE_S4",
  0x01d: "REFERENCE_S5",
  0x01e: "REFERENCE_S6",
  0x020: "NV_RATE",
  0x021: "LOCKOUT",
  0x022: "RETRY",
  0x023: "NV_UNAVAILABLE",
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
    else if (n >= 8) subject = { kind: "session", index: n - 7 };
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
