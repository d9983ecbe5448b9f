import { describe, expect, test } from "bun:test";
import { canonicalJson, canonicalJsonBytes, parseCanonicalJson } from "./canonical-json.ts";
import { OwnerParseError } from "./errors.ts";

const enc = (s: string) => new TextEncoder().encode(s);

describe("RFC 8785 examples", () => {
  test("§3.2.2: literals, numbers and string escapes", () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],' +
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });
  test("§3.2.3: members sorted by UTF-16 code units", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    // Object.keys would reorder "1" first (integer-like keys), so check the text itself.
    expect(canonicalJson(input)).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
        '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
    );
  });
  test.each([
    [-0, "0"],
    [1e21, "1e+21"],
    [1e-7, "1e-7"],
    [5e-324, "5e-324"],
    [9007199254740992, "9007199254740992"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
  ])("number %p → %s (Appendix B)", (n, s) => {
    expect(canonicalJson(n)).toBe(s);
  });
});

describe("refusals", () => {
  test.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["lone high surrogate", "a\ud800"],
    ["lone low surrogate in a key", { "\udc00": 1 }],
    ["bigint", 1n],
    ["Date", new Date(0)],
    ["bytes", new Uint8Array(1)],
    ["undefined in an array", [undefined]],
    ["too deep", JSON.parse(`${"[".repeat(40)}${"]".repeat(40)}`)],
  ])("%s → NOT_REPRESENTABLE", (_n, value) => {
    try {
      canonicalJson(value);
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(OwnerParseError);
      expect((err as OwnerParseError).code).toBe("NOT_REPRESENTABLE");
    }
  });
  test("undefined members are omitted, like JSON.stringify", () => {
    expect(canonicalJson({ b: undefined, a: 1 })).toBe('{"a":1}');
  });
});

describe("parseCanonicalJson", () => {
  test("accepts exactly the canonical bytes", () => {
    const bytes = canonicalJsonBytes({ z: [1, { y: "x" }], a: true });
    expect(parseCanonicalJson(bytes, 1000, "t")).toEqual({ a: true, z: [1, { y: "x" }] });
  });
  test.each([
    ["whitespace", '{"a": 1}', "NOT_CANONICAL"],
    ["member order", '{"b":1,"a":2}', "NOT_CANONICAL"],
    ["duplicate member", '{"a":1,"a":1}', "NOT_CANONICAL"],
    ["escaped slash", '{"a":"\\/"}', "NOT_CANONICAL"],
    ["upper-case unicode escape", '{"a":"\\u001F"}', "NOT_CANONICAL"],
    ["number spelling", '{"a":1.0}', "NOT_CANONICAL"],
    ["not JSON", "{", "INVALID_SYNTAX"],
    ["not UTF-8", "\xff", "INVALID_SYNTAX"],
  ])("%s → %s", (_n, text, code) => {
    const bytes = text === "\xff" ? Uint8Array.of(0xff) : enc(text);
    try {
      parseCanonicalJson(bytes, 1000, "t");
      throw new Error("accepted");
    } catch (err) {
      expect((err as OwnerParseError).code).toBe(code as OwnerParseError["code"]);
    }
  });
  test("size limit → TOO_LARGE", () => {
    expect(() => parseCanonicalJson(enc('"aaaa"'), 4, "t")).toThrow(OwnerParseError);
  });
});
