import { describe, expect, test } from "bun:test";
import { codeOfAsync } from "@asterism/testing";
import { createNonceBatcher } from "./nonce-batcher.ts";
import { verifyInclusion } from "./nonce-tree.ts";

const nonce = () => crypto.getRandomValues(new Uint8Array(32));

/** A fake issuer: the "document" is the root it was issued for; each issuance takes `ms`. */
function slowIssuer(ms: number) {
  const roots: Uint8Array[] = [];
  return {
    roots,
    issue: async (root: Uint8Array) => {
      roots.push(root);
      await Bun.sleep(ms);
      return root.slice();
    },
  };
}

describe("nonce batcher", () => {
  test("an idle node answers the first verifier at once, with a batch of one", async () => {
    const iss = slowIssuer(0);
    const b = createNonceBatcher({ issue: iss.issue });
    const n = nonce();
    const { document, proof } = await b.submit(n);
    expect(proof.size).toBe(1);
    verifyInclusion(n, proof, document);
  });

  test("verifiers arriving during a quote share the next one; each proof carries its own nonce", async () => {
    const iss = slowIssuer(30);
    const b = createNonceBatcher({ issue: iss.issue });
    const ns = Array.from({ length: 50 }, nonce);
    const out = await Promise.all(ns.map((n) => b.submit(n)));
    // First nonce alone, the other 49 in the second quote.
    expect(iss.roots.length).toBe(2);
    expect(b.stats()).toEqual({ documents: 2, nonces: 50 });
    out.forEach((e, i) => {
      verifyInclusion(ns[i] as Uint8Array, e.proof, e.document);
    });
    // A verifier cannot use its neighbour's answer.
    expect(
      await codeOfAsync(async () =>
        verifyInclusion(
          ns[2] as Uint8Array,
          (out[3] as (typeof out)[0]).proof,
          out[3]?.document as Uint8Array,
        ),
      ),
    ).toBe("NONCE_MISMATCH");
  });

  test("maxBatch splits a crowd over several quotes", async () => {
    const iss = slowIssuer(10);
    const b = createNonceBatcher({ issue: iss.issue, maxBatch: 8 });
    const ns = Array.from({ length: 33 }, nonce);
    const out = await Promise.all(ns.map((n) => b.submit(n)));
    expect(Math.max(...out.map((e) => e.proof.size))).toBeLessThanOrEqual(8);
    expect(iss.roots.length).toBe(1 + Math.ceil(32 / 8));
  });

  test("a failed quote fails exactly its batch; the next batch is issued", async () => {
    let calls = 0;
    const b = createNonceBatcher({
      issue: async (root) => {
        calls++;
        await Bun.sleep(5);
        if (calls === 1) throw new Error("TPM busy");
        return root;
      },
    });
    const first = b.submit(nonce());
    const later = b.submit(nonce());
    await expect(first).rejects.toThrow("TPM busy");
    expect((await later).proof.size).toBe(1);
  });

  test("back-pressure: beyond maxPending, verifiers are refused at once with BATCH_QUEUE_FULL", async () => {
    const iss = slowIssuer(20);
    const b = createNonceBatcher({ issue: iss.issue, maxPending: 4 });
    const ok = Array.from({ length: 4 }, () => b.submit(nonce()));
    expect(await codeOfAsync(b.submit(nonce()))).toBe("BATCH_QUEUE_FULL");
    await Promise.all(ok);
    expect(b.pending()).toBe(0);
  });
});
