import { describe, expect, test } from "bun:test";
import { codeOf } from "@asterism/testing";
import {
  createMeasurements,
  MeasurementsParseError,
  mergeMeasurements,
  parseMeasurementsJson,
  parseMeasurementsYaml,
  serializeMeasurementsJson,
  serializeMeasurementsYaml,
} from "./index.ts";

const H32 = (b: string) => b.repeat(32);
const H48 = (b: string) => b.repeat(48);

describe("parseMeasurementsJson()", () => {
  test("object form, legacy bare string (enforced) and default warnOnly=false", () => {
    const m = parseMeasurementsJson(
      JSON.stringify({
        "4": { expected: H32("ab"), warnOnly: false },
        "14": { expected: H32("00"), warnOnly: true },
        "15": H32("CD"),
        "9": { expected: H32("01") },
      }),
    );
    expect([...m.keys()]).toEqual([4, 9, 14, 15]);
    expect(m.get(15)).toEqual({ expected: H32("cd"), warnOnly: false });
    expect(m.get(9)?.warnOnly).toBe(false);
    expect(m.get(14)?.warnOnly).toBe(true);
  });

  test("48-byte (TDX) values", () => {
    const m = parseMeasurementsJson(JSON.stringify({ "0": H48("aa"), "3": H48("bb") }));
    expect(m.get(3)?.expected).toBe(H48("bb"));
  });

  test("uint32 max index is accepted", () => {
    expect(parseMeasurementsJson(JSON.stringify({ "4294967295": H32("00") })).has(4294967295)).toBe(true);
  });

  test("the empty map is a valid (empty) policy", () => {
    expect(parseMeasurementsJson("{}").size).toBe(0);
  });

  const bad: { name: string; input: string; code: string }[] = [
    { name: "not JSON", input: "{", code: "INVALID_SYNTAX" },
    { name: "array", input: "[]", code: "INVALID_SCHEMA" },
    { name: "null", input: "null", code: "INVALID_SCHEMA" },
    {
      name: "base64 value (V9)",
      input: JSON.stringify({ "0": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=" }),
      code: "INVALID_ENCODING",
    },
    { name: "odd hex", input: JSON.stringify({ "0": `${H32("00")}0` }), code: "INVALID_ENCODING" },
    { name: "31 bytes", input: JSON.stringify({ "0": "00".repeat(31) }), code: "INVALID_LENGTH" },
    { name: "33 bytes", input: JSON.stringify({ "0": "00".repeat(33) }), code: "INVALID_LENGTH" },
    { name: "64 bytes", input: JSON.stringify({ "0": "00".repeat(64) }), code: "INVALID_LENGTH" },
    { name: "empty", input: JSON.stringify({ "0": "" }), code: "INVALID_LENGTH" },
    {
      name: "mixed lengths",
      input: JSON.stringify({ "0": H32("00"), "1": H48("00") }),
      code: "MIXED_LENGTHS",
    },
    { name: "non-string expected", input: JSON.stringify({ "0": { expected: 5 } }), code: "INVALID_SCHEMA" },
    { name: "number entry", input: JSON.stringify({ "0": 0 }), code: "INVALID_SCHEMA" },
    {
      name: "non-bool warnOnly",
      input: JSON.stringify({ "0": { expected: H32("00"), warnOnly: "yes" } }),
      code: "INVALID_SCHEMA",
    },
    {
      name: "unknown key (typo)",
      input: JSON.stringify({ "0": { expected: H32("00"), warn_only: true } }),
      code: "INVALID_SCHEMA",
    },
    { name: "missing expected", input: JSON.stringify({ "0": { warnOnly: true } }), code: "INVALID_SCHEMA" },
    { name: "negative index", input: JSON.stringify({ "-1": H32("00") }), code: "INVALID_INDEX" },
    { name: "leading zero index", input: JSON.stringify({ "07": H32("00") }), code: "INVALID_INDEX" },
    { name: "index > uint32", input: JSON.stringify({ "4294967296": H32("00") }), code: "INVALID_INDEX" },
    { name: "non-numeric index", input: JSON.stringify({ pcr4: H32("00") }), code: "INVALID_INDEX" },
    { name: "hex index", input: JSON.stringify({ "0x4": H32("00") }), code: "INVALID_INDEX" },
    {
      name: "__proto__ key",
      input: `{"__proto__": "${H32("00")}", "1": "${H32("00")}"}`,
      code: "INVALID_INDEX",
    },
    { name: "constructor key", input: `{"constructor": "${H32("00")}"}`, code: "INVALID_INDEX" },
    {
      name: "too many entries",
      input: JSON.stringify(
        Object.fromEntries(Array.from({ length: 257 }, (_, i) => [String(i), H32("00")])),
      ),
      code: "TOO_LARGE",
    },
    { name: "file too large", input: " ".repeat((1 << 20) + 1), code: "TOO_LARGE" },
  ];
  test.each(bad)("rejects $name with $code", ({ input, code }) => {
    expect(codeOf(() => parseMeasurementsJson(input))).toBe(code);
  });

  test("invalid UTF-8 bytes", () => {
    expect(codeOf(() => parseMeasurementsJson(new Uint8Array([0x7b, 0xff, 0x7d])))).toBe("INVALID_SYNTAX");
  });

  test("errors are MeasurementsParseError", () => {
    expect(() => parseMeasurementsJson("{")).toThrow(MeasurementsParseError);
  });
});

describe("parseMeasurementsYaml()", () => {
  test("integer keys, unquoted all-digit hex stays a string, booleans", () => {
    const m = parseMeasurementsYaml(
      `11: ${H32("11")}\n2:\n  expected: "${H32("ab")}"\n  warnOnly: true\n1:\n  expected: ${H32("00")}\n  warnOnly: False\n`,
    );
    expect([...m.keys()]).toEqual([1, 2, 11]);
    expect(m.get(11)).toEqual({ expected: H32("11"), warnOnly: false });
    expect(m.get(2)?.warnOnly).toBe(true);
  });

  const bad = [
    { name: "duplicate key", input: `1: ${H32("00")}\n1: ${H32("11")}\n`, code: "INVALID_SYNTAX" },
    { name: "alias", input: `a: &x ${H32("00")}\n1: *x\n`, code: "INVALID_SYNTAX" },
    { name: "sequence", input: `- ${H32("00")}\n`, code: "INVALID_SCHEMA" },
    { name: "scalar", input: "hello\n", code: "INVALID_SCHEMA" },
    {
      name: "warnOnly yes",
      input: `1:\n  expected: ${H32("00")}\n  warnOnly: yes\n`,
      code: "INVALID_SCHEMA",
    },
    { name: "base64", input: "1: AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n", code: "INVALID_ENCODING" },
    { name: "string key", input: `pcr: ${H32("00")}\n`, code: "INVALID_INDEX" },
    { name: "broken", input: "1: [\n", code: "INVALID_SYNTAX" },
  ];
  test.each(bad)("rejects $name with $code", ({ input, code }) => {
    expect(codeOf(() => parseMeasurementsYaml(input))).toBe(code);
  });
});

describe("serialization", () => {
  const m = createMeasurements([
    [11, { expected: H32("ab") }],
    [3, { expected: H32("00"), warnOnly: true }],
    [1, { expected: H32("01") }],
    [2, { expected: H32("02") }],
  ]);

  test("JSON: object form, numeric order, round-trips", () => {
    const text = serializeMeasurementsJson(m);
    expect(Object.keys(JSON.parse(text))).toEqual(["1", "2", "3", "11"]);
    expect(JSON.parse(text)["3"]).toEqual({ expected: H32("00"), warnOnly: true });
    expect(parseMeasurementsJson(text)).toEqual(m);
  });

  test("YAML: keys sorted numerically (1, 2, 3, 11) and round-trips", () => {
    const text = serializeMeasurementsYaml(m);
    const keys = text.split("\n").filter((l) => /^\d+:/.test(l));
    expect(keys).toEqual(["1:", "2:", "3:", "11:"]);
    expect(parseMeasurementsYaml(text)).toEqual(m);
  });
});

describe("mergeMeasurements()", () => {
  test("later maps override earlier ones per index", () => {
    const base = createMeasurements([
      [4, { expected: H32("aa") }],
      [14, { expected: H32("00") }],
    ]);
    const over = createMeasurements([
      [14, { expected: H32("00"), warnOnly: true }],
      [15, { expected: H32("ff") }],
    ]);
    const m = mergeMeasurements(base, over);
    expect([...m.keys()]).toEqual([4, 14, 15]);
    expect(m.get(14)?.warnOnly).toBe(true);
    expect(m.get(4)?.expected).toBe(H32("aa"));
  });

  test("empty maps merge with anything", () => {
    const m48 = createMeasurements([[0, { expected: H48("aa") }]]);
    expect(mergeMeasurements(new Map(), m48, new Map()).size).toBe(1);
  });

  test("mixing 32- and 48-byte policies is LENGTH_CONFLICT", () => {
    const a = createMeasurements([[0, { expected: H32("aa") }]]);
    const b = createMeasurements([[0, { expected: H48("aa") }]]);
    expect(codeOf(() => mergeMeasurements(a, b))).toBe("LENGTH_CONFLICT");
  });
});
