import { describe, expect, test } from "bun:test";
import { BatchedVerifyResponseSchema, VERIFY_USER_DATA } from "@asterism/api";
import { createNonceBatcher, rootFromProof } from "@asterism/attestation";
import { fromBase64, toBase64 } from "@asterism/bytes";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { codeOfAsync, createSoftwareAttester } from "@asterism/testing";
import * as v from "valibot";
import { createApp } from "./app.ts";

const attester = await createSoftwareAttester();

function appWith(opts: { issueMs?: number; maxPending?: number } = {}) {
  let quotes = 0;
  const issue = async (root: Uint8Array) => {
    quotes++;
    await Bun.sleep(opts.issueMs ?? 0);
    return attester.issuer.issue(VERIFY_USER_DATA, root);
  };
  const app = createApp({
    issuer: attester.issuer,
    logger: createMemoryLogger(),
    metrics: new MetricsRegistry(),
    ready: () => true,
    batcher: createNonceBatcher({ issue, ...(opts.maxPending ? { maxPending: opts.maxPending } : {}) }),
  });
  return { app, quotes: () => quotes };
}

const post = (app: ReturnType<typeof appWith>["app"], nonce: Uint8Array) =>
  app.request("http://x/v1/attest/batch", {
    method: "POST",
    body: JSON.stringify({ nonce: toBase64(nonce) }),
  });

describe("POST /v1/attest/batch", () => {
  test("100 concurrent verifiers: few quotes, and each verifier checks its own nonce in the batch", async () => {
    const { app, quotes } = appWith({ issueMs: 20 });
    const nonces = Array.from({ length: 100 }, () => crypto.getRandomValues(new Uint8Array(32)));
    const answers = await Promise.all(
      nonces.map(async (n) => v.parse(BatchedVerifyResponseSchema, await (await post(app, n)).json())),
    );
    expect(quotes()).toBeLessThanOrEqual(3);
    for (const [i, a] of answers.entries()) {
      const doc = fromBase64(a.data);
      // The verifier's side (validateBatchedDocument does this for real documents, whose nonce field is the
      // root): the root its own nonce leads to must be what the evidence is bound to.
      const root = rootFromProof(nonces[i] as Uint8Array, a.proof);
      const claims = await attester.validator().validate(doc, root);
      expect(claims.userData).toEqual(VERIFY_USER_DATA);
      // Its neighbour's proof leads elsewhere, and the evidence refuses that root.
      const other = answers[(i + 1) % answers.length];
      if (other && other.data === a.data) {
        const wrong = rootFromProof(nonces[i] as Uint8Array, other.proof);
        expect(await codeOfAsync(attester.validator().validate(doc, wrong))).toBeDefined();
      }
    }
  });

  test("a full queue answers 503 BUSY at once (typed), and the waiting verifiers still get theirs", async () => {
    const { app } = appWith({ issueMs: 30, maxPending: 3 });
    const first = Array.from({ length: 3 }, () => post(app, crypto.getRandomValues(new Uint8Array(32))));
    const refused = await post(app, crypto.getRandomValues(new Uint8Array(32)));
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("BUSY");
    for (const r of await Promise.all(first)) expect(r.status).toBe(200);
  });

  test.each([
    { name: "no body", body: "", code: "INVALID_REQUEST" },
    {
      name: "short nonce",
      body: JSON.stringify({ nonce: toBase64(new Uint8Array(16)) }),
      code: "NONCE_INVALID",
    },
    { name: "extra field", body: JSON.stringify({ nonce: "x", batch: true }), code: "INVALID_REQUEST" },
    { name: "oversized", body: JSON.stringify({ nonce: "A".repeat(4000) }), code: "NONCE_INVALID" },
  ])("400 for $name ($code)", async ({ body, code }) => {
    const res = await appWith().app.request("http://x/v1/attest/batch", { method: "POST", body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });
});
