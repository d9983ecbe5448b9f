import { beforeAll, describe, expect, test } from "bun:test";
import { fuzzRuns, readTdxVector, TDX_VECTOR, tdxCollateralFixture } from "@asterism/testing";
import fc from "fast-check";
import type { Collateral } from "./collateral.ts";
import { TdxParseError, TdxVerifyError } from "./errors.ts";
import { verifyQuote } from "./verify.ts";

/**
 * Mutated real quotes and collateral through the whole verifier: only the module's coded errors (or
 * success, for mutations of unsigned trailing bytes) — never a raw DOMException, TypeError or hang.
 * Fewer runs than the parser fuzzers: one verification costs milliseconds.
 */
let quote: Uint8Array;
let collateral: Collateral;
beforeAll(async () => {
  quote = await readTdxVector(TDX_VECTOR.v4.quote);
  collateral = await tdxCollateralFixture("v4");
});

async function onlyCoded(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof TdxParseError || err instanceof TdxVerifyError)) throw err;
    expect(typeof err.code).toBe("string");
  }
}

describe("verifyQuote fuzzing", () => {
  test("byte mutations anywhere in the quote (signature data and PEM chain included)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: quote.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 3,
        }),
        async (edits) => {
          const b = quote.slice();
          for (const [pos, v] of edits) b[pos] = v;
          await onlyCoded(verifyQuote(b, { now: TDX_VECTOR.v4.now }));
        },
      ),
      { numRuns: fuzzRuns(60) },
    );
  });

  test("character mutations of the collateral JSON text and PEM chains", async () => {
    const fields = [
      "tcb_info",
      "qe_identity",
      "tcb_info_issuer_chain",
      "pck_crl_issuer_chain",
      "pck_crl",
    ] as const;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.nat(),
        fc.constantFrom("0", "a", "{", '"', "-", " ", "Z"),
        async (f, pos, ch) => {
          const text = collateral[f];
          const i = pos % text.length;
          const mutated = { ...collateral, [f]: text.slice(0, i) + ch + text.slice(i + 1) };
          await onlyCoded(verifyQuote(quote, { now: TDX_VECTOR.v4.now, collateral: mutated }));
        },
      ),
      { numRuns: fuzzRuns(60) },
    );
  });
});
