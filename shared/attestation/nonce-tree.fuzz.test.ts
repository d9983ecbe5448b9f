import { describe, expect, test } from "bun:test";
import { bytesEqual } from "@asterism/bytes";
import { fuzzRuns, onlyTyped } from "@asterism/testing";
import fc from "fast-check";
import { AttestationVerifyError } from "./errors.ts";
import { buildNonceTree, type InclusionProof, rootFromProof, verifyInclusion } from "./nonce-tree.ts";

/**
 * Soundness of batched attestation: whatever proof a hostile VerificationService (or anyone on the path)
 * sends, a verifier only accepts when its own nonce is a leaf of the tree whose root the evidence is bound
 * to; and arbitrary proofs only raise the coded errors.
 */
const nonce = fc.uint8Array({ minLength: 32, maxLength: 32 });
const batch = fc.uniqueArray(nonce, {
  minLength: 1,
  maxLength: 64,
  selector: (n) => Buffer.from(n).toString("hex"),
});

describe("batched nonces", () => {
  test("a proof for one verifier never convinces another", () => {
    fc.assert(
      fc.property(batch, fc.nat(), fc.nat(), (ns, a, b) => {
        fc.pre(ns.length > 1);
        const i = a % ns.length;
        const j = b % ns.length;
        fc.pre(i !== j);
        const t = buildNonceTree(ns);
        const code = onlyTyped([AttestationVerifyError], () =>
          verifyInclusion(ns[j] as Uint8Array, t.proof(i), t.root),
        );
        expect(code).toBe("NONCE_MISMATCH");
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("a tampered proof is accepted only if it still proves the verifier's own nonce", () => {
    fc.assert(
      fc.property(
        batch,
        nonce,
        fc.nat(),
        fc.record({
          index: fc.option(fc.integer({ min: -2, max: 70 }), { nil: undefined }),
          size: fc.option(fc.integer({ min: -1, max: 1100 }), { nil: undefined }),
          flip: fc.option(fc.tuple(fc.nat(), fc.nat(31), fc.integer({ min: 1, max: 255 })), {
            nil: undefined,
          }),
          drop: fc.boolean(),
          add: fc.option(nonce, { nil: undefined }),
        }),
        (ns, outsider, a, m) => {
          const t = buildNonceTree(ns);
          const i = a % ns.length;
          const p = t.proof(i);
          const path = p.path.map((h) => h.slice());
          if (m.flip && path.length > 0) {
            const h = path[m.flip[0] % path.length] as Uint8Array;
            h[m.flip[1]] = (h[m.flip[1]] as number) ^ m.flip[2];
          }
          if (m.drop) path.pop();
          if (m.add) path.push(m.add);
          const tampered: InclusionProof = { index: m.index ?? p.index, size: m.size ?? p.size, path };
          for (const who of [ns[i] as Uint8Array, outsider]) {
            const code = onlyTyped([AttestationVerifyError], () => verifyInclusion(who, tampered, t.root));
            if (code === undefined) expect(ns.some((n) => bytesEqual(n, who))).toBe(true);
          }
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("rootFromProof on arbitrary proofs only throws INCLUSION_PROOF_INVALID", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 40 }),
        fc.integer({ min: -5, max: 2000 }),
        fc.integer({ min: -5, max: 2000 }),
        fc.array(fc.uint8Array({ minLength: 30, maxLength: 33 }), { maxLength: 14 }),
        (n, index, size, path) => {
          const code = onlyTyped([AttestationVerifyError], () => rootFromProof(n, { index, size, path }));
          if (code !== undefined) expect(code).toBe("INCLUSION_PROOF_INVALID");
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
