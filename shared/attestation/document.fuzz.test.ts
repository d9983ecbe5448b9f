import { describe, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { AttestationParseError, parseAttestationDocument, parseAttestationPolicy } from "./index.ts";

const typed = (e: unknown) =>
  e instanceof AttestationParseError || (e as { domain?: string } | null)?.domain === "measurements";

function onlyTypedErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!typed(e)) throw e;
  }
}

const b64 = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString("base64"));
const docLike = fc.record(
  {
    version: fc.oneof(fc.constant(1), fc.anything()),
    variant: fc.oneof(fc.constantFrom("qemu-vtpm", "gcp-sev-snp", "x"), fc.anything()),
    userData: fc.oneof(b64(32), b64(31), fc.string()),
    nonce: fc.oneof(b64(32), fc.string(), fc.anything()),
    evidence: fc.oneof(fc.dictionary(fc.string(), fc.anything()), fc.anything()),
  },
  { requiredKeys: [] },
);

describe("document parser under random input", () => {
  test("arbitrary bytes only throw AttestationParseError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) =>
        onlyTypedErrors(() => parseAttestationDocument(b)),
      ),
      { numRuns: fuzzRuns() },
    );
  });
  test("document-shaped JSON only throws AttestationParseError", () => {
    fc.assert(
      fc.property(docLike, (d) =>
        onlyTypedErrors(() => parseAttestationDocument(new TextEncoder().encode(JSON.stringify(d)))),
      ),
      { numRuns: fuzzRuns() },
    );
  });
  test("policy parser: arbitrary text only throws typed errors", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) =>
        onlyTypedErrors(() => parseAttestationPolicy(new TextEncoder().encode(s))),
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
