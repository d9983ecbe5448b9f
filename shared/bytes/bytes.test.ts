import { describe, expect, test } from "bun:test";
import {
  ByteReader,
  BytesError,
  ByteWriter,
  bytesEqual,
  concat,
  constantTimeEqual,
  fromBase64,
  fromBase64Url,
  fromHex,
  isAllZero,
  toBase64,
  toBase64Url,
  toHex,
  wipe,
} from "./index.ts";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof BytesError ? e.code : `not a BytesError: ${String(e)}`;
  }
  return undefined;
}

describe("ByteReader", () => {
  test("reads big- and little-endian integers", () => {
    const r = new ByteReader(
      fromHex("0102" + "0102" + "01020304" + "01020304" + "0102030405060708" + "0102030405060708"),
    );
    expect(r.u16be()).toBe(0x0102);
    expect(r.u16le()).toBe(0x0201);
    expect(r.u32be()).toBe(0x01020304);
    expect(r.u32le()).toBe(0x04030201);
    expect(r.u64be()).toBe(0x0102030405060708n);
    expect(r.u64le()).toBe(0x0807060504030201n);
    expect(r.remaining).toBe(0);
  });

  test("refuses to read past the end", () => {
    const r = new ByteReader(fromHex("0102"));
    expect(code(() => r.u32be())).toBe("OUT_OF_BOUNDS");
    expect(r.offset).toBe(0);
    expect(code(() => r.bytes(3))).toBe("OUT_OF_BOUNDS");
    expect(code(() => r.skip(3))).toBe("OUT_OF_BOUNDS");
    expect(r.u16be()).toBe(0x0102);
    expect(code(() => r.u8())).toBe("OUT_OF_BOUNDS");
  });

  test("bytes() copies, view() does not", () => {
    const input = fromHex("aabbcc");
    const copied = new ByteReader(input).bytes(2);
    const viewed = new ByteReader(input).view(2);
    input[0] = 0;
    expect(copied[0]).toBe(0xaa);
    expect(viewed[0]).toBe(0);
  });

  test("works on a subarray with a non-zero byteOffset", () => {
    const big = fromHex("ffff00000001ffff");
    expect(new ByteReader(big.subarray(2, 6)).u32be()).toBe(1);
  });
});

describe("ByteWriter", () => {
  test("writes what the reader reads", () => {
    const w = new ByteWriter()
      .u8(1)
      .u16be(0x0203)
      .u16le(0x0405)
      .u32be(0x06070809)
      .u32le(1)
      .u64be(2n)
      .u64le(3n)
      .bytes(fromHex("ee"));
    const r = new ByteReader(w.finish());
    expect([r.u8(), r.u16be(), r.u16le(), r.u32be(), r.u32le()]).toEqual([1, 0x0203, 0x0405, 0x06070809, 1]);
    expect([r.u64be(), r.u64le()]).toEqual([2n, 3n]);
    expect(toHex(r.rest())).toBe("ee");
  });

  test("grows past its initial capacity", () => {
    const w = new ByteWriter();
    for (let i = 0; i < 1000; i++) w.u32be(i);
    expect(w.length).toBe(4000);
    expect(new ByteReader(w.finish().subarray(3996)).u32be()).toBe(999);
  });

  test.each([
    ["u8 too large", () => new ByteWriter().u8(256)],
    ["u16 negative", () => new ByteWriter().u16be(-1)],
    ["u32 fractional", () => new ByteWriter().u32le(1.5)],
    ["u64 too large", () => new ByteWriter().u64be(1n << 64n)],
  ])("rejects %s", (_name, fn) => {
    expect(code(fn)).toBe("VALUE_OUT_OF_RANGE");
  });

  test("patches a size field written earlier", () => {
    const w = new ByteWriter().u32be(0).bytes(fromHex("0102"));
    w.patchU32be(0, 6);
    expect(toHex(w.finish())).toBe("000000060102");
    expect(code(() => w.patchU32be(4, 1))).toBe("OUT_OF_BOUNDS");
  });
});

describe("encodings", () => {
  test("hex round trip, either case in, lower case out", () => {
    expect(toHex(fromHex("00FFab"))).toBe("00ffab");
    expect(toHex(new Uint8Array())).toBe("");
  });

  test.each(["0", "zz", "0g", " 00", "00 "])("hex rejects %p", (s) => {
    expect(code(() => fromHex(s))).toBe("INVALID_HEX");
  });

  test("base64 and base64url round trips", () => {
    const b = fromHex("fbff00ff10");
    expect(toBase64(b)).toBe("+/8A/xA=");
    expect(toBase64Url(b)).toBe("-_8A_xA");
    expect(fromBase64("+/8A/xA=")).toEqual(b);
    expect(fromBase64Url("-_8A_xA")).toEqual(b);
  });

  test.each(["+/8A/xA", "-_8A_xA=", "a", "ab=c", "ab\n=="])("base64 rejects %p", (s) => {
    expect(code(() => fromBase64(s))).toBe("INVALID_BASE64");
  });

  test.each(["+/8A", "abc=", "a", "ab cd"])("base64url rejects %p", (s) => {
    expect(code(() => fromBase64Url(s))).toBe("INVALID_BASE64");
  });

  test("error previews long input instead of echoing it", () => {
    try {
      fromHex(`${"ab".repeat(500)}x`);
    } catch (e) {
      expect((e as Error).message.length).toBeLessThan(200);
    }
  });
});

describe("comparison helpers", () => {
  test("constantTimeEqual", () => {
    expect(constantTimeEqual(fromHex("0102"), fromHex("0102"))).toBe(true);
    expect(constantTimeEqual(fromHex("0102"), fromHex("0103"))).toBe(false);
    expect(constantTimeEqual(fromHex("0102"), fromHex("010200"))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(), new Uint8Array())).toBe(true);
  });

  test("bytesEqual, concat, isAllZero, wipe", () => {
    expect(bytesEqual(concat(fromHex("01"), fromHex(""), fromHex("0203")), fromHex("010203"))).toBe(true);
    expect(isAllZero(new Uint8Array(4))).toBe(true);
    const k = fromHex("deadbeef");
    expect(isAllZero(k)).toBe(false);
    wipe(k);
    expect(isAllZero(k)).toBe(true);
  });
});
