/**
 * One attestation for many verifiers: a Merkle hash tree over a batch of verifier nonces, whose root is
 * the nonce the evidence is issued for (the TPM quote's qualifying data is then bound to the root exactly
 * as it is to a single nonce). Each verifier gets the document plus the inclusion proof of its own nonce,
 * recomputes the root from its nonce and the proof, and validates the document against that root.
 *
 * Why it is sound: the verifier's nonce is fresh and random; the root commits to it (SHA-256 second
 * preimages); the evidence commits to the root; so the evidence was produced after the verifier chose its
 * nonce, as with one quote per nonce. Leaves and inner nodes are hashed with different prefixes (RFC 9162
 * §2.1.1: leaf = SHA-256(0x00 ‖ nonce), node = SHA-256(0x01 ‖ left ‖ right)), so an inner node can never
 * be presented as a leaf, and the proof must have exactly the length its (index, size) implies (RFC 9162
 * §2.1.3.2), so paths cannot be padded or truncated. Other verifiers' nonces stay unknown to each other
 * (a verifier sees only sibling hashes of random values).
 *
 * The tree is the RFC 9162 Merkle Tree Hash over the batch in arrival order, so any RFC 9162 audit-path
 * verifier can check a proof too.
 */
import { createHash } from "node:crypto";
import { constantTimeEqual } from "@asterism/bytes";
import { AttestationVerifyError } from "./errors.ts";

/** Nonces are 32 bytes, as everywhere else. */
export const BATCH_NONCE_BYTES = 32;
/** Largest batch: 2^10 leaves, so a proof has at most 10 hashes. A bound on what a verifier accepts. */
export const MAX_BATCH_SIZE = 1024;
/** Longest proof any batch of at most {@link MAX_BATCH_SIZE} leaves can have. */
export const MAX_PROOF_HASHES = 10;

/** The inclusion proof of one nonce: its position, the batch size and the audit path (leaf to root). */
export interface InclusionProof {
  readonly index: number;
  readonly size: number;
  readonly path: readonly Uint8Array[];
}

/** A built tree: its root and a proof for every leaf. */
export interface NonceTree {
  readonly root: Uint8Array;
  readonly size: number;
  proof(index: number): InclusionProof;
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
const LEAF = new Uint8Array([0x00]);
const NODE = new Uint8Array([0x01]);

/** RFC 9162 §2.1.1 leaf hash of a nonce. */
export function leafHash(nonce: Uint8Array): Uint8Array {
  return sha256(LEAF, nonce);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE, left, right);
}

/** Largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function invalid(expected: string, actual: string): AttestationVerifyError {
  return new AttestationVerifyError("INCLUSION_PROOF_INVALID", "Cannot verify the batch inclusion proof", {
    expected,
    actual,
  });
}

/**
 * Build the tree over `nonces` (1 … {@link MAX_BATCH_SIZE}, each 32 bytes) and keep every level so each
 * proof costs O(log n).
 */
export function buildNonceTree(nonces: readonly Uint8Array[]): NonceTree {
  if (nonces.length === 0 || nonces.length > MAX_BATCH_SIZE)
    throw invalid(`1 to ${MAX_BATCH_SIZE} nonces`, `${nonces.length}`);
  for (const n of nonces)
    if (n.length !== BATCH_NONCE_BYTES)
      throw invalid(`${BATCH_NONCE_BYTES}-byte nonces`, `${n.length} bytes`);
  const leaves = nonces.map(leafHash);
  // MTH(D[lo:hi]) memoised: the recursion visits each subtree once per build.
  const memo = new Map<string, Uint8Array>();
  const mth = (lo: number, hi: number): Uint8Array => {
    if (hi - lo === 1) return leaves[lo] as Uint8Array;
    const key = `${lo}:${hi}`;
    const hit = memo.get(key);
    if (hit) return hit;
    const k = split(hi - lo);
    const h = nodeHash(mth(lo, lo + k), mth(lo + k, hi));
    memo.set(key, h);
    return h;
  };
  const root = mth(0, leaves.length);
  return {
    root,
    size: leaves.length,
    proof(index: number): InclusionProof {
      if (!Number.isInteger(index) || index < 0 || index >= leaves.length)
        throw invalid(`an index below ${leaves.length}`, String(index));
      // RFC 9162 §2.1.3.1 PATH(m, D[n]), written iteratively: siblings from the leaf up.
      const path: Uint8Array[] = [];
      const walk = (m: number, lo: number, hi: number) => {
        if (hi - lo === 1) return;
        const k = split(hi - lo);
        if (m < k) {
          walk(m, lo, lo + k);
          path.push(mth(lo + k, hi));
        } else {
          walk(m - k, lo + k, hi);
          path.push(mth(lo, lo + k));
        }
      };
      walk(index, 0, leaves.length);
      return { index, size: leaves.length, path };
    },
  };
}

/**
 * The root a proof leads to from `nonce` (RFC 9162 §2.1.3.2). Throws `INCLUSION_PROOF_INVALID` for a
 * malformed proof: index outside the batch, a batch larger than {@link MAX_BATCH_SIZE}, hashes of the wrong
 * size, or a path that is too short or too long for its (index, size).
 */
export function rootFromProof(nonce: Uint8Array, proof: InclusionProof): Uint8Array {
  const { index, size, path } = proof;
  if (nonce.length !== BATCH_NONCE_BYTES)
    throw invalid(`a ${BATCH_NONCE_BYTES}-byte nonce`, `${nonce.length} bytes`);
  if (!Number.isInteger(size) || size < 1 || size > MAX_BATCH_SIZE)
    throw invalid(`a batch of 1 to ${MAX_BATCH_SIZE}`, String(size));
  if (!Number.isInteger(index) || index < 0 || index >= size)
    throw invalid(`an index below ${size}`, String(index));
  if (path.length > MAX_PROOF_HASHES) throw invalid(`at most ${MAX_PROOF_HASHES} hashes`, `${path.length}`);
  let fn = index;
  let sn = size - 1;
  let r = leafHash(nonce);
  for (const p of path) {
    if (p.length !== 32) throw invalid("32-byte hashes", `${p.length} bytes`);
    if (sn === 0) throw invalid("a path as long as the tree is deep", "a longer path");
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        // Right-most node of an incomplete level: climb until it is a right child (or the root).
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw invalid("a path as long as the tree is deep", "a shorter path");
  return r;
}

/**
 * Check that `nonce` is in the batch whose root is `root`: {@link rootFromProof} and a constant-time
 * comparison. Throws `INCLUSION_PROOF_INVALID` (malformed) or `NONCE_MISMATCH` (a well-formed proof that
 * leads elsewhere: another nonce's proof, a wrong index, another batch).
 */
export function verifyInclusion(nonce: Uint8Array, proof: InclusionProof, root: Uint8Array): void {
  const computed = rootFromProof(nonce, proof);
  if (!constantTimeEqual(computed, root))
    throw new AttestationVerifyError("NONCE_MISMATCH", "The batch does not contain this verifier's nonce", {
      expected: "the proof to lead from this nonce to the document's nonce (the batch root)",
      actual: "another root",
    });
}
