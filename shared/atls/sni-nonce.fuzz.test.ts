import { expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { AtlsError } from "./errors.ts";
import { decodeSniNonce, encodeSniNonce, SNI_NONCE_SUFFIX } from "./sni-nonce.ts";

test("random server names only ever throw NONCE_MISSING / NONCE_MALFORMED", () => {
  const names = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ maxLength: 80 }).map((s) => `${s}${SNI_NONCE_SUFFIX}`),
    fc.stringMatching(/^[a-z2-7]{50,54}$/).map((s) => `${s}${SNI_NONCE_SUFFIX}`),
  );
  fc.assert(
    fc.property(names, (name) => {
      try {
        const n = decodeSniNonce(name);
        // Anything accepted is the canonical spelling of what it decodes to.
        expect(encodeSniNonce(n)).toBe(name);
      } catch (e) {
        expect(e).toBeInstanceOf(AtlsError);
        expect(["NONCE_MISSING", "NONCE_MALFORMED"]).toContain((e as AtlsError).code);
      }
    }),
    { numRuns: fuzzRuns() },
  );
});

test("every nonce round-trips", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (n) => {
      expect(decodeSniNonce(encodeSniNonce(n))).toEqual(n);
    }),
    { numRuns: fuzzRuns() },
  );
});
