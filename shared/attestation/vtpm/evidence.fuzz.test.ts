import { beforeAll, describe, test } from "bun:test";
import { fuzzRuns, fuzzTimeout } from "@asterism/testing";
import fc from "fast-check";
import { AttestationParseError, AttestationPolicyError, AttestationVerifyError } from "../errors.ts";
import { parseVtpmEvidence, type VtpmEvidence, vtpmEvidenceToJson } from "./evidence.ts";
import { parseGceInstanceInfo } from "./gce-instance.ts";
import { GCE_NOW, gceEvidence, gceTrust } from "./gce-vectors.test-helper.ts";
import { parseSnpInstanceInfo } from "./snp-instance.ts";
import { verifyVtpmEvidence } from "./verify.ts";

const typed = (e: unknown) =>
  e instanceof AttestationParseError ||
  e instanceof AttestationVerifyError ||
  e instanceof AttestationPolicyError;

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!typed(e)) throw e;
  }
}

async function onlyTypedAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!typed(e)) throw e;
  }
}

let real: VtpmEvidence;
let realJson: Record<string, unknown>;
beforeAll(async () => {
  real = await gceEvidence("gce-cos-85-nonce9009", ["sha256"]);
  realJson = vtpmEvidenceToJson(real);
});

/** Replace one random byte of `b` (mutation fuzzing of real evidence). */
const mutate = (b: Uint8Array) =>
  fc.tuple(fc.nat({ max: Math.max(0, b.length - 1) }), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
    const c = b.slice();
    c[i] = (c[i] as number) ^ x;
    return c;
  });

describe("vTPM evidence parsers under random input", () => {
  test("parseVtpmEvidence: arbitrary JSON values only throw AttestationParseError", () => {
    fc.assert(
      fc.property(fc.anything(), (x) => onlyTyped(() => parseVtpmEvidence(x))),
      { numRuns: fuzzRuns() },
    );
  });

  test("parseVtpmEvidence: evidence-shaped values with random fields", () => {
    const shaped = fc.record({
      akPublic: fc.oneof(fc.base64String({ maxLength: 64 }), fc.string()),
      quotes: fc.array(
        fc.record({
          attest: fc.base64String({ maxLength: 64 }),
          signature: fc.base64String({ maxLength: 64 }),
          pcrs: fc.record({
            hash: fc.constantFrom("sha1", "sha256", "sha384", "sha512", "md5"),
            values: fc.dictionary(
              fc.string({ maxLength: 3 }),
              fc.uint8Array({ maxLength: 65 }).map((b) => Buffer.from(b).toString("hex")),
            ),
          }),
        }),
        { maxLength: 6 },
      ),
      eventLog: fc.option(fc.base64String({ maxLength: 64 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(shaped, (x) => onlyTyped(() => parseVtpmEvidence(JSON.parse(JSON.stringify(x))))),
      { numRuns: fuzzRuns() },
    );
  });

  test("parseSnpInstanceInfo and parseGceInstanceInfo: arbitrary bytes only throw AttestationParseError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
        onlyTyped(() => parseSnpInstanceInfo(b));
        onlyTyped(() => parseGceInstanceInfo(b));
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("the real evidence JSON round-trips", () => {
    parseVtpmEvidence(realJson);
  });
});

describe("verifyVtpmEvidence on mutated real GCE evidence", () => {
  const run = async (e: VtpmEvidence) =>
    onlyTypedAsync(async () =>
      verifyVtpmEvidence(e, {
        qualifyingData: new Uint8Array([0x90, 0x09]),
        akTrust: { kind: "certificate", trust: await gceTrust() },
        now: GCE_NOW,
      }),
    );
  const n = fuzzRuns(40);

  test(
    "mutated quote, signature, AK, AK certificate or event log only give typed errors",
    async () => {
      const q = real.quotes[0];
      if (!q) throw new Error("no quote");
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            mutate(q.attest).map((attest) => ({ ...real, quotes: [{ ...q, attest }] })),
            mutate(q.signature).map((signature) => ({ ...real, quotes: [{ ...q, signature }] })),
            mutate(real.akPublic).map((akPublic) => ({ ...real, akPublic })),
            mutate(real.akCert as Uint8Array).map((akCert) => ({ ...real, akCert })),
            mutate(real.eventLog as Uint8Array).map((eventLog) => ({ ...real, eventLog })),
          ),
          (e: VtpmEvidence) => run(e),
        ),
        { numRuns: n },
      );
    },
    fuzzTimeout(60_000),
  );
});
