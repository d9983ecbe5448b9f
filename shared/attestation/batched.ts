import { parseAttestationDocument } from "./document.ts";
import { type InclusionProof, verifyInclusion } from "./nonce-tree.ts";
import {
  type DocumentValidation,
  type DocumentValidationOptions,
  validateDocument,
} from "./validate-document.ts";

/** Options of {@link validateBatchedDocument}: the verifier's own nonce is required. */
export interface BatchedValidationOptions extends DocumentValidationOptions {
  /** The nonce this verifier sent: it must be a leaf of the batch the document was issued for. */
  readonly nonce: Uint8Array;
}

/**
 * Validate a document issued for a batch of nonces (see nonce-tree.ts): first prove that this verifier's
 * own nonce is in the batch — the proof must lead from `opts.nonce` to the document's nonce, which is the
 * batch root — then validate the document against that root exactly as {@link validateDocument} does for
 * a single nonce. Throws `INCLUSION_PROOF_INVALID` / `NONCE_MISMATCH` for a proof that does not carry this
 * verifier's nonce, then whatever the document validation throws.
 *
 * @example
 * const { data, proof } = await (await fetch(`${vs}/v1/attest/batch`, { method: "POST", body })).json();
 * await validateBatchedDocument(fromBase64(data), decodeProof(proof), { policy, nonce: myNonce });
 */
export async function validateBatchedDocument(
  document: Uint8Array,
  proof: InclusionProof,
  opts: BatchedValidationOptions,
): Promise<DocumentValidation> {
  const root = parseAttestationDocument(document).nonce;
  verifyInclusion(opts.nonce, proof, root);
  return validateDocument(document, { ...opts, nonce: root });
}
