import { describe, expect, test } from "bun:test";
import { CodecError, decodePrefix, encode } from "@asterism/codec";
import { applyMutations, fuzzRuns, onlyTyped, readTestdata } from "@asterism/testing";
import fc from "fast-check";
import { TPMS_ATTEST } from "./structures/attest.ts";
import { TPMT_PUBLIC } from "./structures/public.ts";
import { parseTpmsAttest, parseTpmtPublic } from "./verify/parse.ts";

/**
 * The public parse entry points for the two TPM structures a verifier receives from the attester: the AK
 * (TPMT_PUBLIC) and the quote body (TPMS_ATTEST), on the real GCE vectors and on random bytes; also the
 * prefix decoder that stream parsers (event logs, responses) use.
 */
const GCE = ["external", "go-tpm-tools", "attestations", "decoded", "gce-cos-85-nonce9009"];
const ak = await readTestdata(...GCE, "ak_pub.tpmt_public.bin");
const attest = await readTestdata(...GCE, "quote_sha256.attest.bin");
const edits = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom("xor" as const, "set" as const, "insert" as const, "delete" as const),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  { minLength: 1, maxLength: 4 },
);

describe("parseTpmtPublic / parseTpmsAttest", () => {
  test.each([
    ["parseTpmtPublic", parseTpmtPublic, TPMT_PUBLIC, ak],
    ["parseTpmsAttest", parseTpmsAttest, TPMS_ATTEST, attest],
  ] as const)(
    "%s: mutated real and random bytes only raise CodecError; what parses re-encodes",
    (_, parse, codec, seed) => {
      fc.assert(
        fc.property(
          fc.oneof(
            edits.map((e) => applyMutations(seed, e)),
            fc.uint8Array({ maxLength: 400 }),
          ),
          (b) => {
            let value: unknown;
            const code = onlyTyped([CodecError], () => {
              value = parse(b);
            });
            // Canonical form: anything accepted serializes back to exactly the bytes it came from.
            if (code === undefined) expect(encode(codec as never, value as never)).toEqual(b);
          },
        ),
        { numRuns: fuzzRuns() },
      );
    },
  );

  test("decodePrefix: consumed + rest always add up, or CodecError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          edits.map((e) => applyMutations(attest, e)),
          fc.uint8Array({ maxLength: 400 }),
        ),
        (b) => {
          let out: ReturnType<typeof decodePrefix> | undefined;
          onlyTyped([CodecError], () => {
            out = decodePrefix(TPMS_ATTEST, b);
          });
          if (out) expect(out.consumed + out.rest.length).toBe(b.length);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
