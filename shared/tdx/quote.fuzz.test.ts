import { beforeAll, describe, expect, test } from "bun:test";
import { fuzzRuns, readTdxVector, TDX_VECTOR } from "@asterism/testing";
import fc from "fast-check";
import { TdxParseError } from "./errors.ts";
import { parseQuote } from "./quote.ts";

/** Parsing random or mutated bytes either succeeds or throws TdxParseError — nothing else, never hangs. */
function onlyParseErrors(bytes: Uint8Array): void {
  try {
    parseQuote(bytes);
  } catch (err) {
    if (!(err instanceof TdxParseError)) throw err;
    expect(typeof err.code).toBe("string");
  }
}

let seeds: Uint8Array[] = [];
beforeAll(async () => {
  seeds = await Promise.all([
    readTdxVector(TDX_VECTOR.v4.quote),
    readTdxVector(TDX_VECTOR.v5.quote),
    readTdxVector(TDX_VECTOR.ccel.quote),
  ]);
});

describe("parseQuote fuzzing", () => {
  test("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 6000 }), onlyParseErrors), { numRuns: fuzzRuns() });
  });

  test("random bytes behind a valid v4/v5 prefix", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 1200 }),
        fc.uint8Array({ maxLength: 5000 }),
        (i, cut, tail) => {
          const seed = seeds[i] ?? new Uint8Array();
          const b = new Uint8Array(cut + tail.length);
          b.set(seed.subarray(0, cut));
          b.set(tail, cut);
          onlyParseErrors(b);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("byte mutations, insertions and truncations of real quotes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.option(fc.nat()),
        (i, edits, truncate) => {
          const seed = seeds[i] ?? new Uint8Array();
          let b = seed.slice();
          for (const [pos, v] of edits) b[pos % b.length] = v;
          if (truncate !== null) b = b.subarray(0, truncate % (b.length + 1));
          onlyParseErrors(b);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
