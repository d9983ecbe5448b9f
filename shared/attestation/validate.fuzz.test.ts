import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bytesEqual } from "@asterism/bytes";
import { createMeasurements, MeasurementMismatchError } from "@asterism/measurements";
import {
  applyMutations,
  fuzzRuns,
  fuzzTimeout,
  onlyTyped,
  onlyTypedAsync,
  readTestdata,
  type SwtpmInstance,
  startSwtpm,
} from "@asterism/testing";
import { type ClosableTpm, openSwtpm, parseTpmtPublic, readPcrs, TPM_ALG } from "@asterism/tpm";
import fc from "fast-check";
import {
  AttestationParseError,
  type AttestationPolicy,
  AttestationPolicyError,
  AttestationVerifyError,
  createQemuVtpmIssuer,
  decodeBase64Field,
  parseAttestationDocument,
  parseVtpmEvidence,
  validateBatchedDocument,
  validateDocument,
  verifyAkCertificate,
} from "./index.ts";
import { akSpki } from "./vtpm/ak-key.ts";
import { GCE, GCE_NOW, gceTrust } from "./vtpm/gce-vectors.test-helper.ts";

/**
 * The whole verifier path a relying party runs on a document it received (parse → policy → nonce →
 * variant validator), on a real swtpm-issued qemu-vtpm document, and the AK certificate chain check on
 * the real GCE AK certificate. Mutated input only raises the attestation module's coded errors (or the
 * measurements verdict), and anything accepted carries exactly the genuine content.
 */
const TYPED = [
  AttestationParseError,
  AttestationVerifyError,
  AttestationPolicyError,
  MeasurementMismatchError,
];

let sw: SwtpmInstance;
let tpm: ClosableTpm;
let doc: Uint8Array;
let policy: AttestationPolicy;
const userData = new Uint8Array(32).fill(0x11);
const nonce = new Uint8Array(32).fill(0x22);

beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  doc = await createQemuVtpmIssuer({ tpm }).issue(userData, nonce);
  const pcrs = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 15] }])).get(TPM_ALG.SHA256);
  policy = {
    measurements: createMeasurements([
      [0, { expected: pcrs?.get(0) as Uint8Array }],
      [15, { expected: new Uint8Array(32) }],
    ]),
  };
}, 20_000);

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

const edit = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("xor" as const, "set" as const, "insert" as const, "delete" as const),
  byte: fc.integer({ min: 0, max: 255 }),
});

/** Replace one JSON leaf (found by walking a fuzzer-chosen path) with a fuzzer-chosen value. */
function replaceLeaf(json: unknown, choices: readonly number[], value: unknown): unknown {
  if (choices.length === 0 || typeof json !== "object" || json === null) return value;
  const keys = Object.keys(json);
  if (keys.length === 0) return value;
  const [c, ...rest] = choices;
  const k = keys[(c as number) % keys.length] as string;
  const copy: Record<string, unknown> = Array.isArray(json) ? ([...json] as never) : { ...json };
  copy[k] = replaceLeaf((json as Record<string, unknown>)[k], rest, value);
  return copy;
}

describe("validateDocument on a real qemu-vtpm document", () => {
  const validate = (bytes: Uint8Array) => validateDocument(bytes, { policy, nonce, now: () => new Date() });

  test("the genuine document validates (the properties below are not vacuous)", async () => {
    expect((await validate(doc)).claims.userData).toEqual(userData);
  });

  test(
    "byte mutations: only typed errors; anything accepted has the genuine content",
    async () => {
      // The AK public area is not covered by any signature (TPMS_ATTEST.qualifiedSigner depends on the AK's
      // parent chain, so it cannot be recomputed): fields that do not change the key, like its nameAlg,
      // stay malleable (docs/fuzzing.md, finding 1). What must never change is the key itself.
      const decoded = (bytes: Uint8Array) => {
        const d = parseAttestationDocument(bytes);
        const { akPublic, ...evidence } = parseVtpmEvidence(d.evidence);
        return { ...d, evidence: { ...evidence, ak: akSpki(parseTpmtPublic(akPublic)) } };
      };
      const genuine = decoded(doc);
      await fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (e) => {
          const m = applyMutations(doc, e);
          const code = await onlyTypedAsync(TYPED, () => validate(m));
          // JSON tolerates whitespace between tokens and hex tolerates case: whatever is accepted must
          // decode to exactly the genuine content, with the genuine AK.
          if (code === undefined && !bytesEqual(m, doc)) expect(decoded(m)).toEqual(genuine);
        }),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(30_000),
  );

  test(
    "structural mutations (one JSON field replaced by an arbitrary value) never validate",
    async () => {
      const json = JSON.parse(new TextDecoder().decode(doc)) as unknown;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat(), { minLength: 1, maxLength: 5 }),
          fc.oneof(fc.jsonValue(), fc.base64String({ maxLength: 64 }), fc.constant(null)),
          async (path, value) => {
            const mutated = replaceLeaf(json, path, value);
            fc.pre(JSON.stringify(mutated) !== JSON.stringify(json));
            const m = new TextEncoder().encode(JSON.stringify(mutated));
            const code = await onlyTypedAsync(TYPED, () => validate(m));
            expect(code).toBeDefined();
          },
        ),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(30_000),
  );

  test("a document for another nonce is refused with NONCE_MISMATCH", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (other) => {
        fc.pre(!bytesEqual(other, nonce));
        const code = await onlyTypedAsync(TYPED, () =>
          validateDocument(doc, { policy, nonce: other, now: () => new Date() }),
        );
        expect(code).toBe("NONCE_MISMATCH");
      }),
      { numRuns: fuzzRuns(50) },
    );
  });
});

describe("validateBatchedDocument with hostile proofs", () => {
  test("random proofs and nonces against a real document only give coded errors", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: -1, max: 1100 }),
        fc.integer({ min: -1, max: 1100 }),
        fc.array(fc.uint8Array({ minLength: 31, maxLength: 33 }), { maxLength: 12 }),
        async (n, index, size, path) => {
          const code = await onlyTypedAsync(TYPED, () =>
            validateBatchedDocument(doc, { index, size, path }, { policy, nonce: n, now: () => new Date() }),
          );
          // The document was issued for a single nonce, not for a batch containing `n`.
          expect(code).toBeDefined();
        },
      ),
      { numRuns: fuzzRuns(200) },
    );
  });
});

describe("AK certificates", () => {
  test(
    "verifyAkCertificate: a mutated GCE AK certificate never verifies; only AttestationVerifyError",
    async () => {
      const cert = await readTestdata(
        ...GCE,
        "attestations",
        "decoded",
        "gce-cos-85-nonce9009",
        "ak_cert.der",
      );
      const trust = await gceTrust();
      await verifyAkCertificate(cert, trust, [], GCE_NOW); // not vacuous
      await fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (e) => {
          const m = applyMutations(cert, e);
          const code = await onlyTypedAsync([AttestationVerifyError], () =>
            verifyAkCertificate(m, trust, [], GCE_NOW),
          );
          if (!bytesEqual(m, cert)) expect(code).toBeDefined();
        }),
        { numRuns: fuzzRuns(200) },
      );
    },
    fuzzTimeout(30_000),
  );
});

describe("base64 fields", () => {
  test("decodeBase64Field: arbitrary strings only throw INVALID_ENCODING / INVALID_LENGTH", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.base64String({ maxLength: 64 })),
        fc.option(fc.nat(48), { nil: undefined }),
        (s, len) => {
          const code = onlyTyped([AttestationParseError], () => decodeBase64Field("fuzz", s, len));
          if (code !== undefined) expect(["INVALID_ENCODING", "INVALID_LENGTH"]).toContain(code);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
