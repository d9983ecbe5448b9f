import { describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import {
  array,
  at,
  bits,
  bytes,
  CodecError,
  constant,
  decode,
  empty,
  encode,
  layout,
  list,
  reserved,
  sized,
  struct,
  u8,
  u16,
  u32,
  u32le,
  u64,
  union,
} from "./index.ts";

// A structure exercising every combinator, so random input reaches each error path.
const EVERYTHING = struct("EVERYTHING", {
  magic: constant(u16, 0xbeef),
  kind: u8,
  body: union("kind", {
    1: struct("ONE", { a: u32, b: sized(u16, { max: 32 }) }),
    2: struct("TWO", { items: list(u8, u16, { max: 6 }), flags: bits(u8, { x: [0, 0], y: [3, 1] }) }),
    3: empty,
  }),
  fixed: array(u8, 2),
  tail: layout("TAIL", 8, { v: at(0, u32le), r: at(4, reserved(4)) }),
  clock: u64,
});

const everythingValue = fc.oneof(
  fc
    .record({ a: fc.integer({ min: 0, max: 0xffffffff }), b: fc.uint8Array({ maxLength: 32 }) })
    .map((body) => ({ kind: 1, body })),
  fc
    .record({
      items: fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 }),
      flags: fc.record({ x: fc.integer({ min: 0, max: 1 }), y: fc.integer({ min: 0, max: 7 }) }),
    })
    .map((body) => ({ kind: 2, body })),
  fc.constant({ kind: 3, body: null }),
);

describe("codec fuzz", () => {
  test("random bytes only ever throw CodecError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (b) => {
        try {
          decode(EVERYTHING, b);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("random valid values round-trip byte-exactly", () => {
    fc.assert(
      fc.property(
        everythingValue,
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 2, maxLength: 2 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (u, fixed, v, clock) => {
          const value = { magic: 0xbeef, kind: u.kind, body: u.body, fixed, tail: { v }, clock };
          const enc = encode(EVERYTHING, value as never);
          expect(decode(EVERYTHING, enc)).toEqual(value as never);
          expect(encode(EVERYTHING, decode(EVERYTHING, enc))).toEqual(enc);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("single-byte mutations of a valid encoding parse or fail with CodecError", () => {
    const valid = encode(EVERYTHING, {
      magic: 0xbeef,
      kind: 1,
      body: { a: 1, b: new Uint8Array(4) },
      fixed: [1, 2],
      tail: { v: 9 },
      clock: 5n,
    } as never);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), (i, x) => {
        const m = valid.slice();
        m[i] = x;
        try {
          decode(EVERYTHING, m);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("huge claimed sizes fail fast without allocating", () => {
    const big = struct("BIG", { data: sized(u32, { max: 1024 }) });
    const t0 = performance.now();
    expect(() => decode(big, new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(CodecError);
    expect(() => decode(bytes(1 << 30), new Uint8Array(4))).toThrow(CodecError);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
