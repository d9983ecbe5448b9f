import { describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import {
  ByteReader,
  BytesError,
  ByteWriter,
  fromBase64,
  fromBase64Url,
  fromHex,
  toBase64,
  toBase64Url,
  toHex,
} from "./index.ts";

describe("bytes fuzz", () => {
  test("encodings round-trip any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
        expect(fromHex(toHex(b))).toEqual(b);
        expect(fromBase64(toBase64(b))).toEqual(b);
        expect(fromBase64Url(toBase64Url(b))).toEqual(b);
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("decoders throw only BytesError on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 64 }), (s) => {
        for (const decode of [fromHex, fromBase64, fromBase64Url]) {
          try {
            decode(s);
          } catch (e) {
            expect(e).toBeInstanceOf(BytesError);
          }
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("random read sequences either succeed or throw OUT_OF_BOUNDS", () => {
    const op = fc.constantFrom("u8", "u16be", "u16le", "u32be", "u32le", "u64be", "u64le", "b3");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.array(op, { maxLength: 20 }), (b, ops) => {
        const r = new ByteReader(b);
        try {
          for (const o of ops)
            if (o === "b3") r.bytes(3);
            else r[o]();
        } catch (e) {
          expect(e).toBeInstanceOf(BytesError);
          expect((e as BytesError).code).toBe("OUT_OF_BOUNDS");
        }
        expect(r.offset).toBeLessThanOrEqual(b.length);
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("writer/reader agree on random integers", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (n, big) => {
          const r = new ByteReader(new ByteWriter().u32le(n).u64be(big).finish());
          expect(r.u32le()).toBe(n);
          expect(r.u64be()).toBe(big);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
