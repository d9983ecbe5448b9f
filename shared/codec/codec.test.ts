import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "@asterism/bytes";
import { codeOf } from "@asterism/testing";
import {
  array,
  at,
  bits,
  bytes,
  bytesBy,
  CodecError,
  constant,
  decode,
  decodePrefix,
  empty,
  encode,
  layout,
  list,
  refine,
  reserved,
  sized,
  sizedOf,
  struct,
  transform,
  u8,
  u16,
  u16le,
  u32,
  u32le,
  u64,
  u64le,
  union,
} from "./index.ts";

// TPM 2.0 Part 2 §10.11.1 TPMS_CLOCK_INFO, used as a realistic fixed-size golden structure.
const TPMS_CLOCK_INFO = struct("TPMS_CLOCK_INFO", {
  clock: u64,
  resetCount: u32,
  restartCount: u32,
  safe: u8,
});

// A miniature tagged union in the TPMT_SIGNATURE style: algorithm selects the arm.
const SIG = struct("SIG", {
  sigAlg: u16,
  signature: union("sigAlg", {
    20: struct("RSASSA", { hash: u16, sig: sized(u16, { max: 512 }) }),
    24: struct("ECDSA", { hash: u16, r: sized(u16, { max: 66 }), s: sized(u16, { max: 66 }) }),
    16: empty,
  }),
});

describe("golden encodings", () => {
  test("TPMS_CLOCK_INFO parses the spec's big-endian layout", () => {
    const hex = "0000000000001000" + "00000002" + "00000003" + "01";
    const v = decode(TPMS_CLOCK_INFO, fromHex(hex));
    expect(v).toEqual({ clock: 0x1000n, resetCount: 2, restartCount: 3, safe: 1 });
    expect(toHex(encode(TPMS_CLOCK_INFO, v))).toBe(hex);
    expect(TPMS_CLOCK_INFO.fixedSize).toBe(17);
  });

  test("union arm chosen by the sibling tag, both ways", () => {
    const ecdsa = "0018" + "000b" + "0002aabb" + "0001cc";
    expect(decode(SIG, fromHex(ecdsa))).toEqual({
      sigAlg: 0x18,
      signature: { hash: 0x0b, r: fromHex("aabb"), s: fromHex("cc") },
    });
    expect(toHex(encode(SIG, decode(SIG, fromHex(ecdsa))))).toBe(ecdsa);
    expect(decode(SIG, fromHex("0010"))).toEqual({ sigAlg: 0x10, signature: null });
  });

  test("little-endian integers for AMD/Intel structures", () => {
    const L = struct("L", { a: u16le, b: u32le, c: u64le });
    const hex = "0201" + "04030201" + "0807060504030201";
    expect(decode(L, fromHex(hex))).toEqual({ a: 0x0102, b: 0x01020304, c: 0x0102030405060708n });
    expect(toHex(encode(L, decode(L, fromHex(hex))))).toBe(hex);
  });

  test("counted list and fixed array", () => {
    const L = struct("L", { items: list(u32, u16, { max: 4 }), fixed: array(u8, 3) });
    const hex = "00000002" + "0001" + "0002" + "090807";
    expect(decode(L, fromHex(hex))).toEqual({ items: [1, 2], fixed: [9, 8, 7] });
    expect(toHex(encode(L, { items: [1, 2], fixed: [9, 8, 7] }))).toBe(hex);
  });

  test("bytesBy takes its length from a sibling field", () => {
    const S = struct("S", { n: u32le, data: bytesBy("n", { max: 8 }) });
    expect(decode(S, fromHex("02000000aabb"))).toEqual({ n: 2, data: fromHex("aabb") });
    expect(codeOf(() => decode(S, fromHex("09000000")))).toBe("SIZE_LIMIT");
    expect(codeOf(() => encode(S, { n: 3, data: fromHex("aa") }))).toBe("SIZE_MISMATCH");
  });

  test("sizedOf must be consumed exactly", () => {
    const S = sizedOf(u16, struct("IN", { a: u16 }), { max: 16 });
    expect(decode(S, fromHex("00020007"))).toEqual({ a: 7 });
    expect(codeOf(() => decode(S, fromHex("0003000700")))).toBe("SIZE_MISMATCH");
    expect(codeOf(() => decode(S, fromHex("000100")))).toBe("TRUNCATED");
    expect(toHex(encode(S, { a: 7 }))).toBe("00020007");
  });

  test("bit fields decode named ranges and reject unnamed set bits", () => {
    const ATTR = bits(u32, { fixedTPM: [1, 1], sign: [18, 18], level: [7, 4] });
    expect(decode(ATTR, fromHex("00040052"))).toEqual({ fixedTPM: 1, sign: 1, level: 5 });
    expect(toHex(encode(ATTR, { fixedTPM: 1, sign: 1, level: 5 }))).toBe("00040052");
    expect(codeOf(() => decode(ATTR, fromHex("80000000")))).toBe("RESERVED_NONZERO");
    expect(decode(bits(u32, { a: [0, 0] }, { allowUnnamed: 0x80000000n }), fromHex("80000001"))).toEqual({
      a: 1,
    });
    expect(codeOf(() => encode(ATTR, { fixedTPM: 2, sign: 0, level: 0 }))).toBe("INVALID_VALUE");
  });

  test("64-bit bit fields (SNP guest policy style)", () => {
    const POLICY = bits(
      u64le,
      { abiMinor: [7, 0], abiMajor: [15, 8], smt: [16, 16], debug: [19, 19] },
      { allowUnnamed: 1n << 17n },
    );
    const v = decode(POLICY, fromHex("1f00030000000000"));
    expect(v).toEqual({ abiMinor: 31, abiMajor: 0, smt: 1, debug: 0 });
    expect(codeOf(() => decode(POLICY, fromHex("0000000000000001")))).toBe("RESERVED_NONZERO");
  });

  test("transform and refine keep bytes, change meaning", () => {
    const HexId = transform(bytes(2), toHex, fromHex, "ID");
    expect(decode(HexId, fromHex("abcd"))).toBe("abcd");
    expect(toHex(encode(HexId, "abcd"))).toBe("abcd");
    const Version = refine(u8, (v) => v === 2 || v === 3, "2 or 3", "VERSION");
    expect(decode(Version, fromHex("03"))).toBe(3);
    expect(codeOf(() => decode(Version, fromHex("04")))).toBe("INVALID_VALUE");
  });
});

describe("rejections", () => {
  const MAGIC = struct("M", { magic: constant(u32, 0xff544347), body: sized(u16, { max: 4 }) });

  test.each([
    ["wrong magic", "ff544348" + "0000", "CONSTANT_MISMATCH"],
    ["truncated", "ff54", "TRUNCATED"],
    ["oversized TPM2B", "ff544347" + "0005" + "0102030405", "SIZE_LIMIT"],
    ["trailing bytes", "ff544347" + "0000" + "00", "TRAILING_BYTES"],
    ["unknown union tag", "0011", "UNKNOWN_TAG"],
  ])("%s", (name, hex, want) => {
    const parse =
      name === "unknown union tag" ? () => decode(SIG, fromHex(hex)) : () => decode(MAGIC, fromHex(hex));
    expect(codeOf(parse)).toBe(want);
  });

  test("trailing bytes accepted only when asked, and returned by decodePrefix", () => {
    expect(decode(u16, fromHex("000100"), { allowTrailing: true })).toBe(1);
    const { value, rest, consumed } = decodePrefix(u16, fromHex("0001ff"));
    expect([value, toHex(rest), consumed]).toEqual([1, "ff", 2]);
  });

  test("list count limit is checked before reading items", () => {
    expect(codeOf(() => decode(list(u32, u8, { max: 8 }), fromHex("ffffffff")))).toBe("SIZE_LIMIT");
  });

  test("errors name the field path", () => {
    try {
      decode(SIG, fromHex("0018000b0002aa"));
      throw new Error("should not parse");
    } catch (e) {
      expect(e).toBeInstanceOf(CodecError);
      expect((e as CodecError).path).toBe("SIG.signature.ECDSA.r");
    }
  });

  test("serializer rejects values that do not fit", () => {
    expect(codeOf(() => encode(u16, 70000))).toBe("INVALID_VALUE");
    expect(codeOf(() => encode(bytes(4), fromHex("01")))).toBe("SIZE_MISMATCH");
    expect(codeOf(() => encode(sized(u16, { max: 1 }), fromHex("0102")))).toBe("SIZE_LIMIT");
    expect(codeOf(() => encode(array(u8, 2), [1]))).toBe("SIZE_MISMATCH");
    expect(codeOf(() => encode(SIG, { sigAlg: 0x99, signature: null }))).toBe("UNKNOWN_TAG");
    expect(codeOf(() => encode(u64, -1n))).toBe("INVALID_VALUE");
  });
});

describe("fixed-offset layouts", () => {
  // A report-like layout: version, reserved gap, data, reserved tail (house style §5).
  const REPORT = layout("REPORT", 0x20, {
    version: at(0x00, u32le),
    reserved0: at(0x04, reserved(0x0c)),
    reportData: at(0x10, bytes(0x08)),
    reserved1: at(0x18, reserved(0x08)),
  });

  test("parses and serializes byte-for-byte", () => {
    const raw = new Uint8Array(0x20);
    raw[0] = 2;
    raw.set(fromHex("0102030405060708"), 0x10);
    const v = decode(REPORT, raw);
    expect(v).toEqual({ version: 2, reportData: fromHex("0102030405060708") });
    expect(encode(REPORT, v)).toEqual(raw);
  });

  test("every reserved byte is checked (one mutation each)", () => {
    const reservedOffsets = [...Array(0x0c).keys()]
      .map((i) => 0x04 + i)
      .concat([...Array(8).keys()].map((i) => 0x18 + i));
    for (const off of reservedOffsets) {
      const raw = new Uint8Array(0x20);
      raw[off] = 0x80;
      expect(codeOf(() => decode(REPORT, raw))).toBe("RESERVED_NONZERO");
    }
    const ok = new Uint8Array(0x20);
    ok[0x10] = 0xff;
    expect(codeOf(() => decode(REPORT, ok))).toBeUndefined();
  });

  test("a table with a gap, overlap or wrong size is refused at definition", () => {
    expect(() => layout("GAP", 8, { a: at(0, u32le), b: at(5, u16le) })).toThrow(/expected 0x4/);
    expect(() => layout("SHORT", 8, { a: at(0, u32le) })).toThrow(/expected 0x8/);
    expect(() => layout("VAR", 8, { a: at(0, sized(u16, { max: 4 })) })).toThrow(/no fixed size/);
  });
});
