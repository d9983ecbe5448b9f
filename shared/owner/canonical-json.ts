/**
 * JSON Canonicalization Scheme (RFC 8785, "JCS"): one byte sequence per JSON value, so a hash of it
 * identifies the value. Owners sign SHA-256 of the canonical form of a change, and anyone re-derives
 * those bytes from the value alone.
 *
 * RFC 8785 §3.2: no whitespace; object members sorted by the UTF-16 code units of their names (§3.2.3);
 * strings and numbers serialized as ECMAScript's JSON.stringify does (§3.2.2.2, §3.2.2.3); input must be
 * I-JSON (RFC 7493): well-formed Unicode, finite numbers, unique member names.
 */
import { OwnerParseError } from "./errors.ts";

/** Deepest nesting accepted; our documents are a few levels deep, the bound stops stack exhaustion. */
export const MAX_CANONICAL_DEPTH = 32;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function unrepresentable(what: string): OwnerParseError {
  return new OwnerParseError("NOT_REPRESENTABLE", "Cannot canonicalize JSON", {
    expected: "I-JSON (RFC 7493) values",
    actual: what,
  });
}

function str(s: string): string {
  if (LONE_SURROGATE.test(s)) throw unrepresentable("a string with a lone surrogate");
  // ECMAScript's JSON.stringify is exactly RFC 8785 §3.2.2.2 for well-formed strings.
  return JSON.stringify(s);
}

function write(value: unknown, depth: number): string {
  if (depth > MAX_CANONICAL_DEPTH) throw unrepresentable(`nesting deeper than ${MAX_CANONICAL_DEPTH}`);
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw unrepresentable(String(value));
      // Number.prototype.toString is RFC 8785 §3.2.2.3; -0 becomes "0".
      return JSON.stringify(value);
    case "string":
      return str(value);
    case "object": {
      if (Array.isArray(value)) {
        return `[${value
          .map((item) => {
            if (item === undefined) throw unrepresentable("undefined in an array");
            return write(item, depth + 1);
          })
          .join(",")}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw unrepresentable("a non-plain object");
      const members = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      // Default sort compares UTF-16 code units, which is what §3.2.3 requires.
      members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${members.map(([k, v]) => `${str(k)}:${write(v, depth + 1)}`).join(",")}}`;
    }
    default:
      throw unrepresentable(typeof value);
  }
}

/**
 * The RFC 8785 canonical form of `value`. Object members whose value is `undefined` are omitted (as
 * JSON.stringify does); anything else JSON cannot carry exactly is refused with `NOT_REPRESENTABLE`.
 *
 * @example
 * canonicalJson({ b: [1, "x"], a: null }); // '{"a":null,"b":[1,"x"]}'
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) throw unrepresentable("undefined");
  return write(value, 0);
}

/** The canonical form as UTF-8 bytes (what gets hashed). */
export function canonicalJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

/**
 * Parse bytes that must already be canonical JSON: UTF-8, well-formed, at most `maxBytes`, and equal to
 * the canonical form of their own value. Non-canonical bytes (whitespace, member order, duplicate names,
 * escapes) are refused, so one value never travels as two byte strings.
 */
export function parseCanonicalJson(bytes: Uint8Array, maxBytes: number, what: string): unknown {
  const action = `Cannot parse ${what}`;
  if (bytes.length > maxBytes) {
    throw new OwnerParseError("TOO_LARGE", action, {
      expected: `at most ${maxBytes} bytes`,
      actual: `${bytes.length} bytes`,
    });
  }
  let text: string;
  let value: unknown;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    value = JSON.parse(text);
  } catch (cause) {
    throw new OwnerParseError("INVALID_SYNTAX", action, { expected: "UTF-8 JSON", cause });
  }
  if (canonicalJson(value) !== text) {
    throw new OwnerParseError("NOT_CANONICAL", action, { expected: "RFC 8785 canonical JSON" });
  }
  return value;
}
