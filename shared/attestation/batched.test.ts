import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMeasurements } from "@asterism/measurements";
import { codeOfAsync, type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, openSwtpm, readPcrs, TPM_ALG } from "@asterism/tpm";
import { validateBatchedDocument } from "./batched.ts";
import { buildNonceTree } from "./nonce-tree.ts";
import type { AttestationPolicy } from "./policy.ts";
import { validateDocument } from "./validate-document.ts";
import { createQemuVtpmIssuer } from "./variants/qemu-vtpm.ts";

// One real swtpm quote for eight verifiers: each proves its own nonce is in the batch the quote covers.
let sw: SwtpmInstance;
let tpm: ClosableTpm;
let policy: AttestationPolicy;
const userData = new Uint8Array(32).fill(0x55);
const nonces = Array.from({ length: 8 }, () => crypto.getRandomValues(new Uint8Array(32)));
const tree = buildNonceTree(nonces);
let doc: Uint8Array;

beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  doc = await createQemuVtpmIssuer({ tpm }).issue(userData, tree.root);
  const pcrs = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [0] }])).get(TPM_ALG.SHA256);
  policy = { measurements: createMeasurements([[0, { expected: pcrs?.get(0) as Uint8Array }]]) };
}, 20_000);

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

describe("batched attestation on swtpm", () => {
  test("every verifier validates the one document with its own nonce and proof", async () => {
    for (let i = 0; i < nonces.length; i++) {
      const r = await validateBatchedDocument(doc, tree.proof(i), { policy, nonce: nonces[i] as Uint8Array });
      expect(r.claims.userData).toEqual(userData);
    }
  });

  const outsider = crypto.getRandomValues(new Uint8Array(32));
  const cases = [
    {
      name: "another verifier's proof",
      nonce: () => nonces[0] as Uint8Array,
      index: 1,
      code: "NONCE_MISMATCH",
    },
    { name: "a nonce outside the batch", nonce: () => outsider, index: 0, code: "NONCE_MISMATCH" },
  ];
  test.each(cases)("refused: $name → $code", async (c) => {
    expect(
      await codeOfAsync(validateBatchedDocument(doc, tree.proof(c.index), { policy, nonce: c.nonce() })),
    ).toBe(c.code);
  });

  test("a document for another batch is refused even with a genuine-looking proof", async () => {
    const other = buildNonceTree([nonces[0] as Uint8Array, outsider]);
    expect(
      await codeOfAsync(
        validateBatchedDocument(doc, other.proof(0), { policy, nonce: nonces[0] as Uint8Array }),
      ),
    ).toBe("NONCE_MISMATCH");
  });

  test("a batched document does not pass as a single-nonce document for any member's nonce", async () => {
    expect(await codeOfAsync(validateDocument(doc, { policy, nonce: nonces[3] as Uint8Array }))).toBe(
      "NONCE_MISMATCH",
    );
  });
});
