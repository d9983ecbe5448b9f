import { describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import {
  MeasurementsParseError,
  MeasurementsPolicyError,
  parseImageMeasurements,
  parseMeasurementsJson,
  parseMeasurementsYaml,
  serializeMeasurementsJson,
  serializeMeasurementsYaml,
} from "./index.ts";

const PARSE_CODES = new Set([
  "TOO_LARGE",
  "INVALID_SYNTAX",
  "INVALID_SCHEMA",
  "INVALID_INDEX",
  "DUPLICATE_INDEX",
  "INVALID_ENCODING",
  "INVALID_LENGTH",
  "MIXED_LENGTHS",
]);

function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    const typed =
      (e instanceof MeasurementsParseError && PARSE_CODES.has(e.code)) ||
      e instanceof MeasurementsPolicyError;
    if (!typed) throw e;
  }
}

const hexOf = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString("hex"));
const entry = fc.oneof(
  hexOf(32),
  fc.record({ expected: hexOf(32), warnOnly: fc.boolean() }),
  fc.record({ expected: fc.oneof(hexOf(31), hexOf(48), fc.string(), fc.integer()) }),
  fc.anything(),
);
const policyLike = fc.dictionary(
  fc.oneof(fc.nat({ max: 30 }).map(String), fc.string({ maxLength: 12 })),
  entry,
  {
    maxKeys: 30,
  },
);

describe("measurements parsers under random input", () => {
  test("JSON parser: arbitrary strings only throw typed errors", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => onlyTypedErrors(() => parseMeasurementsJson(s))),
      { numRuns: fuzzRuns() },
    );
  });

  test("JSON parser: policy-shaped values only throw typed errors", () => {
    fc.assert(
      fc.property(policyLike, (obj) => onlyTypedErrors(() => parseMeasurementsJson(JSON.stringify(obj)))),
      { numRuns: fuzzRuns() },
    );
  });

  test("YAML parser: arbitrary strings only throw typed errors", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => onlyTypedErrors(() => parseMeasurementsYaml(s))),
      { numRuns: fuzzRuns() },
    );
  });

  test("published file parser: arbitrary bytes only throw typed errors", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => onlyTypedErrors(() => parseImageMeasurements(b))),
      { numRuns: fuzzRuns() },
    );
  });

  test("valid policies round-trip through JSON and YAML", () => {
    const valid = fc.dictionary(
      fc.nat({ max: 4294967295 }).map(String),
      fc.record({ expected: hexOf(32), warnOnly: fc.boolean() }),
      { maxKeys: 24 },
    );
    fc.assert(
      fc.property(valid, (obj) => {
        const m = parseMeasurementsJson(JSON.stringify(obj));
        expect(parseMeasurementsJson(serializeMeasurementsJson(m))).toEqual(m);
        expect(parseMeasurementsYaml(serializeMeasurementsYaml(m))).toEqual(m);
      }),
      { numRuns: fuzzRuns(100) },
    );
  });
});
