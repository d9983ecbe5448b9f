import { describe, expect, test } from "bun:test";
import { fuzzRuns, readTdxVector, TDX_VECTOR } from "@asterism/testing";
import fc from "fast-check";
import { parseCollateral, parseWith, QeIdentitySchema, TdxTcbInfoSchema } from "./collateral.ts";
import { TdxParseError, TdxPolicyError, TdxVerifyError } from "./errors.ts";
import { topLevelMembers } from "./json-member.ts";
import { parseCertificate } from "./pck-chain.ts";
import { OID_SGX_EXTENSIONS, parsePckExtensions } from "./pck-extensions.ts";
import { parseTdxPolicy } from "./policy.ts";
import { parseQuote } from "./quote.ts";

function only(cls: abstract new (...a: never[]) => Error, f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof cls)) throw err;
    expect(err).toBeInstanceOf(cls);
  }
}

describe("collateral parsers fuzzing", () => {
  test("topLevelMembers on random JSON values and strings: only COLLATERAL_MALFORMED; members re-parse", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json(),
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify({ a: v, b: [v] }, null, 1)),
        ),
        (text) => {
          try {
            const m = topLevelMembers(text, "fuzz");
            // Every member's text is itself valid JSON equal to what JSON.parse sees.
            const parsed = JSON.parse(text) as Record<string, unknown>;
            for (const [k, raw] of m) expect(JSON.parse(raw)).toEqual(parsed[k]);
          } catch (err) {
            if (!(err instanceof TdxParseError)) throw err;
            expect(err.code).toBe("COLLATERAL_MALFORMED");
          }
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("schemas on random JSON: only TdxParseError / TdxPolicyError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (j) => {
        only(TdxParseError, () => parseCollateral(j));
        only(TdxParseError, () => parseWith(TdxTcbInfoSchema, j, "tcbInfo"));
        only(TdxParseError, () => parseWith(QeIdentitySchema, j, "qe"));
        only(TdxPolicyError, () => parseTdxPolicy(j));
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("SGX extension DER: mutations of the real SPR_E4 extension only raise PCK_EXTENSION_INVALID", async () => {
    const q = parseQuote(await readTdxVector(TDX_VECTOR.v4.quote));
    const ext = parseCertificate(q.pckChain[0] ?? new Uint8Array(), "leaf").getExtension(OID_SGX_EXTENSIONS);
    const real = new Uint8Array(ext?.value ?? new ArrayBuffer(0));
    expect(parsePckExtensions(real).fmspc).toBe("50806f000000");
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (edits) => {
          const b = real.slice();
          for (const [pos, v] of edits) b[pos % b.length] = v;
          try {
            parsePckExtensions(b);
          } catch (err) {
            if (!(err instanceof TdxVerifyError)) throw err;
            expect(err.code).toBe("PCK_EXTENSION_INVALID");
          }
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("SGX extension DER: random bytes only raise PCK_EXTENSION_INVALID", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 800 }), (b) => {
        try {
          parsePckExtensions(b);
        } catch (err) {
          if (!(err instanceof TdxVerifyError)) throw err;
          expect(err.code).toBe("PCK_EXTENSION_INVALID");
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
