import { beforeAll, describe, expect, test } from "bun:test";
import { bytesEqual } from "@asterism/bytes";
import { applyMutations, fuzzRuns, onlyTyped, readTestdata } from "@asterism/testing";
import fc from "fast-check";
import {
  createMeasurements,
  loadSignedMeasurements,
  MeasurementMismatchError,
  MeasurementsParseError,
  MeasurementsPolicyError,
  MeasurementsSignatureError,
  parseMeasurementsPublicKey,
  validateMeasurements,
  verifyMeasurementsSignature,
} from "./index.ts";

/**
 * Signed measurement files come from a download (release bucket, mirror): the file, its `.sig` and the
 * public key are all attacker-reachable. Only coded errors, and no changed file or signature verifies.
 */
const dir = ["constellation", "extracted"] as const;
let file: Uint8Array;
let sig: Uint8Array;
let pem: string;
beforeAll(async () => {
  file = await readTestdata(...dir, "measurements-signed-v1.0.0-test.json");
  sig = await readTestdata(...dir, "measurements-signed-v1.0.0-test.json.sig");
  pem = new TextDecoder().decode(await readTestdata(...dir, "measurements-signing-key.pub.pem"));
});

const edits = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom("xor" as const, "set" as const, "insert" as const, "delete" as const),
    byte: fc.integer({ min: 0, max: 255 }),
  }),
  { minLength: 1, maxLength: 3 },
);
const TYPED = [MeasurementsSignatureError, MeasurementsParseError, MeasurementsPolicyError];

describe("signature over the measurements file", () => {
  test("a mutated file or signature never verifies; only MeasurementsSignatureError", () => {
    const key = parseMeasurementsPublicKey(pem);
    verifyMeasurementsSignature(file, sig, key); // not vacuous
    fc.assert(
      fc.property(fc.boolean(), edits, (which, e) => {
        const f = which ? applyMutations(file, e) : file;
        const s = which ? sig : applyMutations(sig, e);
        const code = onlyTyped([MeasurementsSignatureError], () => verifyMeasurementsSignature(f, s, key));
        // The one tolerated edit: a single trailing newline on the .sig.
        const benign = !which && bytesEqual(s, new Uint8Array([...sig, 0x0a]));
        if (!(bytesEqual(f, file) && bytesEqual(s, sig)) && !benign) expect(code).toBeDefined();
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("parseMeasurementsPublicKey: mutated and random PEM only throws PUBLIC_KEY_INVALID", () => {
    const bytes = new TextEncoder().encode(pem);
    fc.assert(
      fc.property(
        fc.oneof(
          edits.map((e) => applyMutations(bytes, e)),
          fc.uint8Array({ maxLength: 200 }),
        ),
        (b) => {
          const code = onlyTyped([MeasurementsSignatureError], () => parseMeasurementsPublicKey(b));
          if (code !== undefined) expect(code).toBe("PUBLIC_KEY_INVALID");
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("loadSignedMeasurements: mutated inputs only raise the module's coded errors", () => {
    const want = { version: "v1.0.0-test", ref: "-", stream: "stable", csp: "Unknown", variant: "dummy" };
    fc.assert(
      fc.property(fc.constantFrom("file", "sig", "key"), edits, (which, e) => {
        onlyTyped(TYPED, () =>
          loadSignedMeasurements({
            file: which === "file" ? applyMutations(file, e) : file,
            signature: which === "sig" ? applyMutations(sig, e) : sig,
            publicKey: which === "key" ? applyMutations(new TextEncoder().encode(pem), e) : pem,
            expect: want,
          }),
        );
      }),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("verdicts on measured values", () => {
  const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
  test("validateMeasurements: any measured values give a verdict or MeasurementMismatchError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(31), hex32, fc.boolean()), { maxLength: 6 }),
        fc.dictionary(
          fc.nat(40).map(String),
          fc.oneof(hex32, fc.string({ maxLength: 70 }), fc.uint8Array({ maxLength: 50 })),
        ),
        (entries, measured) => {
          const dedup = new Map(entries.map(([i, v, w]) => [i, { expected: v, warnOnly: w }]));
          const policy = createMeasurements([...dedup]);
          const code = onlyTyped([MeasurementMismatchError, MeasurementsPolicyError], () =>
            validateMeasurements(policy, measured as Record<number, string | Uint8Array>),
          );
          // Nothing enforced → nothing can mismatch.
          if ([...dedup.values()].every((m) => m.warnOnly)) expect(code).toBeUndefined();
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
