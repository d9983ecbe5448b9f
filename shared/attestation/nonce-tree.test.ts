import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { codeOf } from "@asterism/testing";
import {
  buildNonceTree,
  type InclusionProof,
  leafHash,
  MAX_BATCH_SIZE,
  rootFromProof,
  verifyInclusion,
} from "./nonce-tree.ts";

const nonce = (i: number) => createHash("sha256").update(`nonce-${i}`).digest() as unknown as Uint8Array;
const nonces = (n: number) => Array.from({ length: n }, (_, i) => new Uint8Array(nonce(i)));

/** RFC 9162 §2.1.1 Merkle Tree Hash written as plainly as the RFC states it (an independent reference). */
function referenceMth(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 1) return leafHash(leaves[0] as Uint8Array);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  const h = createHash("sha256");
  h.update(new Uint8Array([1]));
  h.update(referenceMth(leaves.slice(0, k)));
  h.update(referenceMth(leaves.slice(k)));
  return new Uint8Array(h.digest());
}

describe("nonce tree (RFC 9162 Merkle tree over a batch of verifier nonces)", () => {
  test("every leaf's proof leads to the root, for every batch size 1…70, and the root is RFC 9162's", () => {
    for (let n = 1; n <= 70; n++) {
      const ns = nonces(n);
      const t = buildNonceTree(ns);
      expect(t.root).toEqual(referenceMth(ns));
      for (let i = 0; i < n; i++) {
        const p = t.proof(i);
        expect(rootFromProof(ns[i] as Uint8Array, p)).toEqual(t.root);
        expect(() => verifyInclusion(ns[i] as Uint8Array, p, t.root)).not.toThrow();
      }
    }
  });

  test("a batch of one: the root is the leaf hash, never the raw nonce", () => {
    const [n] = nonces(1) as [Uint8Array];
    const t = buildNonceTree([n]);
    expect(t.root).toEqual(leafHash(n));
    expect(t.root).not.toEqual(n);
    expect(t.proof(0).path).toEqual([]);
  });

  test("proofs are at most log2(size) hashes (10 for the largest batch)", () => {
    const t = buildNonceTree(nonces(MAX_BATCH_SIZE));
    expect(t.proof(0).path.length).toBe(10);
    expect(t.proof(MAX_BATCH_SIZE - 1).path.length).toBe(10);
  });

  const ns = nonces(13);
  const tree = buildNonceTree(ns);
  const own = ns[5] as Uint8Array;
  const proof = tree.proof(5);
  const other = nonces(14).slice(13)[0] as Uint8Array; // a nonce not in the batch

  const cases: { name: string; nonce: Uint8Array; proof: InclusionProof; root?: Uint8Array; code: string }[] =
    [
      {
        name: "another verifier's proof for my nonce",
        nonce: own,
        proof: tree.proof(6),
        code: "NONCE_MISMATCH",
      },
      {
        name: "my proof for another verifier's nonce",
        nonce: ns[6] as Uint8Array,
        proof,
        code: "NONCE_MISMATCH",
      },
      { name: "a nonce that is not in the batch", nonce: other, proof, code: "NONCE_MISMATCH" },
      { name: "wrong index", nonce: own, proof: { ...proof, index: 4 }, code: "NONCE_MISMATCH" },
      {
        // A size with the same path shape (e.g. 14) reaches the same root: the root does not encode the
        // size and nothing depends on it. A size of another shape cannot be satisfied by this path.
        name: "a size of another tree shape",
        nonce: own,
        proof: { ...proof, size: 8 },
        code: "INCLUSION_PROOF_INVALID",
      },
      {
        name: "a proof for another batch's root",
        nonce: own,
        proof,
        root: buildNonceTree(nonces(12)).root,
        code: "NONCE_MISMATCH",
      },
      {
        name: "a flipped bit in one sibling hash",
        nonce: own,
        proof: {
          ...proof,
          path: proof.path.map((h, i) => (i === 1 ? h.map((b, j) => (j === 0 ? b ^ 1 : b)) : h)),
        },
        code: "NONCE_MISMATCH",
      },
      {
        name: "truncated path",
        nonce: own,
        proof: { ...proof, path: proof.path.slice(1) },
        code: "INCLUSION_PROOF_INVALID",
      },
      {
        name: "extended path",
        nonce: own,
        proof: { ...proof, path: [...proof.path, new Uint8Array(32)] },
        code: "INCLUSION_PROOF_INVALID",
      },
      {
        name: "index beyond the batch",
        nonce: own,
        proof: { ...proof, index: 13 },
        code: "INCLUSION_PROOF_INVALID",
      },
      { name: "negative index", nonce: own, proof: { ...proof, index: -1 }, code: "INCLUSION_PROOF_INVALID" },
      { name: "batch of zero", nonce: own, proof: { ...proof, size: 0 }, code: "INCLUSION_PROOF_INVALID" },
      {
        name: "oversized batch",
        nonce: own,
        proof: { ...proof, size: MAX_BATCH_SIZE + 1 },
        code: "INCLUSION_PROOF_INVALID",
      },
      {
        name: "a 31-byte sibling",
        nonce: own,
        proof: { ...proof, path: [new Uint8Array(31), ...proof.path.slice(1)] },
        code: "INCLUSION_PROOF_INVALID",
      },
      { name: "a 31-byte nonce", nonce: own.subarray(1), proof, code: "INCLUSION_PROOF_INVALID" },
    ];
  test.each(cases)("refused: $name → $code", (c) => {
    expect(codeOf(() => verifyInclusion(c.nonce, c.proof, c.root ?? tree.root))).toBe(c.code);
  });

  test("an inner node cannot pose as a leaf (second-preimage attempt refused by the 0x00/0x01 prefixes)", () => {
    const four = nonces(4);
    const t = buildNonceTree(four);
    // Inner node over leaves 0 and 1, and its sibling over leaves 2 and 3.
    const inner = (a: number, b: number) =>
      new Uint8Array(
        createHash("sha256")
          .update(new Uint8Array([1]))
          .update(leafHash(four[a] as Uint8Array))
          .update(leafHash(four[b] as Uint8Array))
          .digest(),
      );
    const forged: InclusionProof = { index: 0, size: 2, path: [inner(2, 3)] };
    expect(codeOf(() => verifyInclusion(inner(0, 1), forged, t.root))).toBe("NONCE_MISMATCH");
  });

  test.each([
    { name: "empty batch", input: [] as Uint8Array[] },
    { name: "too many", input: nonces(MAX_BATCH_SIZE + 1) },
    { name: "a short nonce", input: [new Uint8Array(16)] },
  ])("buildNonceTree refuses $name", ({ input }) => {
    expect(codeOf(() => buildNonceTree(input))).toBe("INCLUSION_PROOF_INVALID");
  });
});
