/**
 * The measurements policy: which PCRs (or TDX MRTD/RTMRs) must hold which values.
 *
 * Wire format is Constellation's (reference/constellation.md §5.3, VECTORS.md V9): a map from index to
 * `{"expected": "<hex>", "warnOnly": <bool>}`, where a bare hex string is the legacy form of an enforced
 * entry. JSON keys are decimal strings; YAML keys are integers. Values are 32 bytes (TPM SHA-256 bank)
 * or 48 bytes (TDX), never mixed within one map. Base64 is rejected.
 *
 * Deliberate strictness beyond Constellation (documented so migrating files fail loudly, not silently):
 * keys must be canonical decimal (no `"07"`), entry objects may not carry unknown keys (Go's decoder is
 * case-insensitive and ignores unknown fields, so a typo such as `"warn_only"` was silently dropped there).
 */
import { fromHex } from "@asterism/bytes";
import * as v from "valibot";
import { parseDocument, stringify as stringifyYaml } from "yaml";
import { MeasurementsParseError, MeasurementsPolicyError } from "./errors.ts";

/** One expected value. `expected` is lower-case hex of 32 or 48 bytes. */
export interface Measurement {
  readonly expected: string;
  /** A mismatch only produces a warning (Constellation `WarnOnly`); `false` = enforced. */
  readonly warnOnly: boolean;
}

/** A measurements policy: index → expectation. Indices not listed are not checked. */
export type Measurements = ReadonlyMap<number, Measurement>;

/** The two supported value sizes: SHA-256 PCRs and 48-byte TDX registers (SHA-384). */
export type MeasurementSize = 32 | 48;

/**
 * Largest policy file accepted. A real policy is well under 4 KiB (24 PCRs × ~110 bytes); the cap bounds
 * parser work on untrusted input (policies also arrive inside signed files fetched over the network).
 */
export const MAX_MEASUREMENTS_FILE_BYTES = 1 << 20;
/** Most entries in one map. TPM banks have 24 PCRs and TDX has 5 registers; 256 leaves room for vendor PCRs. */
export const MAX_MEASUREMENT_ENTRIES = 256;

const UINT32_MAX = 0xffff_ffff;
const CANONICAL_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;
const HEX = /^[0-9a-fA-F]*$/;

/** The JSON shape of one entry: the object form or the legacy bare hex string. */
export const MeasurementEntrySchema = v.union([
  v.string(),
  v.strictObject({ expected: v.string(), warnOnly: v.optional(v.boolean()) }),
]);
/** The JSON shape of a whole map (keys checked separately: they must be canonical uint32). */
export const MeasurementsMapSchema = v.record(v.string(), MeasurementEntrySchema);

const ACTION = "Cannot parse measurements";

/** Parse an index key: canonical decimal uint32. */
function parseIndex(key: string): number {
  const n = CANONICAL_INDEX.test(key) ? Number(key) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > UINT32_MAX) {
    throw new MeasurementsParseError("INVALID_INDEX", ACTION, {
      expected: "a canonical decimal index 0..4294967295",
      actual: JSON.stringify(key.slice(0, 24)),
    });
  }
  return n;
}

function parseExpected(index: number, hex: string): string {
  if (!HEX.test(hex) || hex.length % 2 !== 0) {
    throw new MeasurementsParseError("INVALID_ENCODING", `${ACTION}: index ${index}`, {
      expected: "hex (base64 is not accepted)",
      actual: JSON.stringify(hex.slice(0, 24)),
    });
  }
  const len = hex.length / 2;
  if (len !== 32 && len !== 48) {
    throw new MeasurementsParseError("INVALID_LENGTH", `${ACTION}: index ${index}`, {
      expected: "32 or 48 bytes",
      actual: `${len} bytes`,
    });
  }
  return hex.toLowerCase();
}

/**
 * Validate an already-decoded JSON value (e.g. the `measurements` member of a larger document) as a
 * measurements map.
 */
export function measurementsFromJsonValue(value: unknown): Measurements {
  if (Array.isArray(value)) {
    throw new MeasurementsParseError("INVALID_SCHEMA", ACTION, { expected: "an object", actual: "an array" });
  }
  // Check the raw keys first: valibot's record() silently drops "__proto__"/"constructor"/"prototype",
  // and a policy must never lose an entry without an error.
  if (value !== null && typeof value === "object") for (const key of Object.keys(value)) parseIndex(key);
  const r = v.safeParse(MeasurementsMapSchema, value);
  if (!r.success) {
    const issue = r.issues[0];
    throw new MeasurementsParseError("INVALID_SCHEMA", ACTION, {
      expected: "an object mapping index to a hex string or {expected, warnOnly}",
      actual: `${issue.message}${issue.path ? ` at ${v.getDotPath(issue) ?? "?"}` : ""}`,
    });
  }
  const keys = Object.keys(r.output);
  if (keys.length > MAX_MEASUREMENT_ENTRIES) {
    throw new MeasurementsParseError("TOO_LARGE", ACTION, {
      expected: `at most ${MAX_MEASUREMENT_ENTRIES} entries`,
      actual: `${keys.length}`,
    });
  }
  const out = new Map<number, Measurement>();
  let size: number | undefined;
  for (const key of keys) {
    const index = parseIndex(key);
    const entry = r.output[key] as v.InferOutput<typeof MeasurementEntrySchema>;
    const raw = typeof entry === "string" ? entry : entry.expected;
    const expected = parseExpected(index, raw);
    if (size === undefined) size = expected.length;
    else if (size !== expected.length) {
      throw new MeasurementsParseError("MIXED_LENGTHS", `${ACTION}: index ${index}`, {
        expected: `${size / 2} bytes like the other entries`,
        actual: `${expected.length / 2} bytes`,
      });
    }
    if (out.has(index)) {
      throw new MeasurementsParseError("DUPLICATE_INDEX", ACTION, { actual: `index ${index} twice` });
    }
    out.set(index, { expected, warnOnly: typeof entry === "string" ? false : (entry.warnOnly ?? false) });
  }
  return sortMeasurements(out);
}

function decodeText(bytes: Uint8Array | string): string {
  if (typeof bytes === "string") {
    if (bytes.length > MAX_MEASUREMENTS_FILE_BYTES) throw tooLarge(bytes.length);
    return bytes;
  }
  if (bytes.length > MAX_MEASUREMENTS_FILE_BYTES) throw tooLarge(bytes.length);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new MeasurementsParseError("INVALID_SYNTAX", ACTION, { expected: "UTF-8 text", cause });
  }
}

function tooLarge(n: number): MeasurementsParseError {
  return new MeasurementsParseError("TOO_LARGE", ACTION, {
    expected: `at most ${MAX_MEASUREMENTS_FILE_BYTES} bytes`,
    actual: `${n}`,
  });
}

/** Parse a JSON measurements map (`{"4": {"expected": "…", "warnOnly": false}, "15": "…"}`). */
export function parseMeasurementsJson(input: Uint8Array | string): Measurements {
  const text = decodeText(input);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new MeasurementsParseError("INVALID_SYNTAX", ACTION, { expected: "JSON", cause });
  }
  return measurementsFromJsonValue(value);
}

/**
 * Parse a YAML measurements map (integer keys). Parsed with the YAML failsafe schema so that an unquoted
 * all-digit hex value stays a string (as Go's typed decoder keeps it) instead of becoming a number;
 * `warnOnly` is then read as a YAML 1.2 boolean by hand. Duplicate keys and aliases are rejected.
 */
export function parseMeasurementsYaml(input: Uint8Array | string): Measurements {
  const text = decodeText(input);
  let value: unknown;
  try {
    const doc = parseDocument(text, {
      schema: "failsafe",
      uniqueKeys: true,
      prettyErrors: false,
      logLevel: "silent",
    });
    // Warnings (unknown directives, unresolved tags) are rejected too: a policy must mean one thing.
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) throw problem;
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (cause) {
    if (cause instanceof MeasurementsParseError) throw cause;
    throw new MeasurementsParseError("INVALID_SYNTAX", ACTION, { expected: "YAML", cause });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new MeasurementsParseError("INVALID_SCHEMA", ACTION, { expected: "a YAML mapping" });
  }
  const normalised: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry !== null && typeof entry === "object" && !Array.isArray(entry)) {
      const e = { ...(entry as Record<string, unknown>) };
      if ("warnOnly" in e) e["warnOnly"] = yamlBool(key, e["warnOnly"]);
      normalised[key] = e;
    } else normalised[key] = entry;
  }
  return measurementsFromJsonValue(normalised);
}

function yamlBool(key: string, value: unknown): unknown {
  if (value === "true" || value === "True" || value === "TRUE") return true;
  if (value === "false" || value === "False" || value === "FALSE") return false;
  throw new MeasurementsParseError("INVALID_SCHEMA", `${ACTION}: index ${key}`, {
    expected: "warnOnly: true or false",
    actual: JSON.stringify(String(value).slice(0, 16)),
  });
}

function sortMeasurements(m: ReadonlyMap<number, Measurement>): Measurements {
  return new Map([...m].sort(([a], [b]) => a - b));
}

/** Build a policy from code (values validated like parsed ones). */
export function createMeasurements(
  entries: Iterable<readonly [number, { expected: string | Uint8Array; warnOnly?: boolean }]>,
): Measurements {
  const obj: Record<string, { expected: string; warnOnly: boolean }> = {};
  for (const [index, e] of entries) {
    const expected = typeof e.expected === "string" ? e.expected : Buffer.from(e.expected).toString("hex");
    obj[String(index)] = { expected, warnOnly: e.warnOnly ?? false };
  }
  return measurementsFromJsonValue(obj);
}

/** The value size of a policy (undefined for an empty one). */
export function measurementSize(m: Measurements): MeasurementSize | undefined {
  for (const e of m.values()) return (e.expected.length / 2) as MeasurementSize;
  return undefined;
}

/** The JSON object form: decimal keys in numeric order, always the `{expected, warnOnly}` object form. */
export function measurementsToJson(m: Measurements): Record<string, { expected: string; warnOnly: boolean }> {
  const out: Record<string, { expected: string; warnOnly: boolean }> = {};
  for (const [index, e] of sortMeasurements(m))
    out[String(index)] = { expected: e.expected, warnOnly: e.warnOnly };
  return out;
}

/** Serialize as JSON text (what {@link parseMeasurementsJson} reads back). */
export function serializeMeasurementsJson(m: Measurements, indent = 2): string {
  return `${JSON.stringify(measurementsToJson(m), null, indent)}\n`;
}

/** Serialize as YAML with integer keys sorted numerically (1, 2, 3, 11 — not 1, 11, 2, 3). */
export function serializeMeasurementsYaml(m: Measurements): string {
  const doc = new Map<number, { expected: string; warnOnly: boolean }>();
  for (const [index, e] of sortMeasurements(m))
    doc.set(index, { expected: e.expected, warnOnly: e.warnOnly });
  return stringifyYaml(doc, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
}

/**
 * Merge policies left to right: an index in a later map replaces the earlier entry (this is how CSP and
 * variant overrides are layered over the defaults). All maps must use the same value size.
 */
export function mergeMeasurements(...maps: readonly Measurements[]): Measurements {
  const out = new Map<number, Measurement>();
  let size: number | undefined;
  for (const m of maps) {
    const s = measurementSize(m);
    if (s !== undefined) {
      if (size !== undefined && s !== size) {
        throw new MeasurementsPolicyError("LENGTH_CONFLICT", "Cannot merge measurements", {
          expected: `${size}-byte values`,
          actual: `${s}-byte values`,
        });
      }
      size = s;
    }
    for (const [index, e] of m) out.set(index, e);
  }
  return sortMeasurements(out);
}

/** Hex of `b` checked to be a valid measurement (used by callers that hold bytes). */
export function measurementHex(b: Uint8Array): string {
  if (b.length !== 32 && b.length !== 48) {
    throw new MeasurementsPolicyError("UNSUPPORTED_SIZE", "Cannot use measurement value", {
      expected: "32 or 48 bytes",
      actual: `${b.length} bytes`,
    });
  }
  return Buffer.from(b).toString("hex");
}

/** The expected value of an entry as bytes. */
export function measurementBytes(e: Measurement): Uint8Array {
  return fromHex(e.expected);
}
