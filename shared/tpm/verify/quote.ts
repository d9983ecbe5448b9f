import { bytesEqual, constantTimeEqual, toHex } from "@asterism/bytes";
import { CodecError, decode } from "@asterism/codec";
import type { PcrBanks } from "../commands/pcr.ts";
import { TPM_ST } from "../constants.ts";
import { QuoteVerificationError } from "../errors.ts";
import type { HashInfo } from "../hash.ts";
import { TPMS_ATTEST, type TPMS_QUOTE_INFO } from "../structures/attest.ts";
import type { PcrSelection } from "../structures/basic.ts";
import type { TPMT_PUBLIC } from "../structures/public.ts";
import { parseOrMalformed, parseTpmtPublic } from "./parse.ts";
import {
  computeMissing,
  computePcrDigest,
  sameSelection,
  selectionKey,
  suppliedExactly,
} from "./selection.ts";
import { startSignatureCheck } from "./signature.ts";

export { parseTpmsAttest, parseTpmtPublic } from "./parse.ts";
export { computePcrDigest } from "./selection.ts";

/** Inputs of {@link verifyQuote}. */
export interface VerifyQuoteOptions {
  /** The AK: parsed TPMT_PUBLIC, or its bytes. Must be a restricted signing key. */
  readonly akPublic: TPMT_PUBLIC | Uint8Array;
  /** TPMS_ATTEST bytes exactly as signed (TPM2_Quote's `quoted` buffer without its size). */
  readonly attest: Uint8Array;
  /** TPMT_SIGNATURE bytes. */
  readonly signature: Uint8Array;
  /** The verifier's nonce; must equal TPMS_ATTEST.extraData exactly (empty for "no nonce"). */
  readonly nonce: Uint8Array;
  /**
   * The claimed PCR values; exactly the quoted PCRs must be given (no more, no fewer). When omitted, the
   * quote's selection and pcrDigest are NOT checked (`pcrDigestChecked: false`): only use that to check a
   * quote's signature and nonce, never to accept PCR values.
   */
  readonly pcrs?: PcrBanks;
  /** When set, the quote must select exactly these PCRs. */
  readonly expectedSelection?: readonly PcrSelection[];
  /**
   * Accept SHA-1 *signature* hashes (off by default: SHA-1 collisions are practical). This is about the
   * AK's signing hash, not about PCR banks: a SHA-1 bank quoted with a SHA-256 signature is fine.
   */
  readonly allowSha1?: boolean;
}

/** What a verified quote proves: these PCR values were in the AK's TPM when it signed this nonce. */
export interface VerifiedQuote {
  readonly attest: TPMS_ATTEST;
  readonly quoteInfo: TPMS_QUOTE_INFO;
  /** The signature's hash, which is also the pcrDigest hash. */
  readonly signatureHash: HashInfo;
  /** The quoted PCR values (now authenticated), per bank; empty when `pcrs` was not supplied. */
  readonly pcrs: PcrBanks;
  /** False only when no PCR values were supplied. */
  readonly pcrDigestChecked: boolean;
}

/**
 * Verify a TPM2_Quote (authenticity only; PCR *policy* is the caller's validate step):
 * 1. the AK is a restricted, fixedTPM signing key (else it could sign a forged TPMS_ATTEST);
 * 2. the signature verifies over the exact attest bytes (RSASSA, RSAPSS or ECDSA, WebCrypto);
 * 3. magic is TPM_GENERATED_VALUE and type is TPM_ST_ATTEST_QUOTE (Part 2 §10.12.12);
 * 4. extraData equals the nonce;
 * 5. the selection equals `expectedSelection` (if given) and exactly covers the supplied PCRs;
 * 6. pcrDigest = H_sig(selected values) (the signing hash, not the bank's — as the GCE vectors show).
 *
 * Not checked: qualifiedSigner (it depends on the AK's parent chain) and clock/firmware values.
 *
 * @example
 * const v = await verifyQuote({ akPublic, attest, signature, nonce, pcrs });
 */
export async function verifyQuote(opts: VerifyQuoteOptions): Promise<VerifiedQuote> {
  const pub =
    opts.akPublic instanceof Uint8Array
      ? parseOrMalformed("TPMT_PUBLIC", () => parseTpmtPublic(opts.akPublic as Uint8Array))
      : opts.akPublic;
  if (!pub.objectAttributes.restricted || !pub.objectAttributes.sign || pub.objectAttributes.decrypt)
    throw new QuoteVerificationError(
      "AK_NOT_RESTRICTED_SIGNING",
      "The attestation key is not a restricted signing key",
      {
        expected: "restricted=1 sign=1 decrypt=0",
        actual: `restricted=${pub.objectAttributes.restricted} sign=${pub.objectAttributes.sign} decrypt=${pub.objectAttributes.decrypt}`,
      },
    );
  // fixedTPM: the private key was generated in, and can never leave, a TPM. A restricted key that could
  // be duplicated (or was imported) may be held by software that signs anything (Part 1 §27.2).
  if (!pub.objectAttributes.fixedTPM)
    throw new QuoteVerificationError("AK_NOT_FIXED_TPM", "The attestation key is not fixedTPM", {
      expected: "fixedTPM=1",
      actual: "fixedTPM=0",
    });
  const { hash, verified } = startSignatureCheck(pub, opts.signature, opts.attest, opts.allowSha1 ?? false);
  // The content checks run while WebCrypto verifies the signature; their verdict is only reported once
  // the signature is known to be good, so a forged quote is always SIGNATURE_INVALID.
  let checked: VerifiedQuote | undefined;
  let failure: unknown;
  try {
    checked = checkContent(opts, hash);
  } catch (err) {
    failure = err;
  }
  await verified;
  if (failure !== undefined || !checked) throw failure;
  return checked;
}

function checkContent(opts: VerifyQuoteOptions, hash: HashInfo): VerifiedQuote {
  let attest: TPMS_ATTEST;
  try {
    attest = decode(TPMS_ATTEST, opts.attest);
  } catch (err) {
    if (err instanceof CodecError && err.code === "CONSTANT_MISMATCH")
      throw new QuoteVerificationError("NOT_TPM_GENERATED", "TPMS_ATTEST.magic is not TPM_GENERATED_VALUE", {
        cause: err,
      });
    if (err instanceof CodecError && err.code === "UNKNOWN_TAG")
      throw new QuoteVerificationError("NOT_A_QUOTE", "TPMS_ATTEST.type is not a known attestation", {
        cause: err,
      });
    throw parseOrMalformed("TPMS_ATTEST", () => {
      throw err;
    });
  }
  if (attest.type !== TPM_ST.ATTEST_QUOTE)
    throw new QuoteVerificationError("NOT_A_QUOTE", "TPMS_ATTEST.type is not TPM_ST_ATTEST_QUOTE", {
      expected: "0x8018",
      actual: `0x${attest.type.toString(16)}`,
    });
  if (!constantTimeEqual(attest.extraData, opts.nonce))
    throw new QuoteVerificationError("NONCE_MISMATCH", "Quote extraData differs from the nonce", {
      expected: `"${toHex(opts.nonce)}"`,
      actual: `"${toHex(attest.extraData)}"`,
    });
  const info = attest.attested as TPMS_QUOTE_INFO;
  const supplied = opts.pcrs;
  if (opts.expectedSelection && !sameSelection(opts.expectedSelection, info.pcrSelect))
    throw new QuoteVerificationError("PCR_SELECTION_MISMATCH", "Quote selects other PCRs than expected", {
      expected: selectionKey(opts.expectedSelection),
      actual: selectionKey(info.pcrSelect),
    });
  if (!supplied)
    return { attest, quoteInfo: info, signatureHash: hash, pcrs: new Map(), pcrDigestChecked: false };
  if (!suppliedExactly(info.pcrSelect, supplied)) {
    const given = [...supplied].map(([h, m]) => ({ hash: h, pcrSelect: [...m.keys()] }));
    const code = computeMissing(info.pcrSelect, supplied) ? "PCR_MISSING" : "PCR_SELECTION_MISMATCH";
    throw new QuoteVerificationError(code, "Supplied PCR values do not match the quote's selection", {
      expected: selectionKey(info.pcrSelect),
      actual: selectionKey(given),
    });
  }
  const computed = computePcrDigest(hash, info.pcrSelect, supplied);
  if (!bytesEqual(computed, info.pcrDigest))
    throw new QuoteVerificationError("PCR_DIGEST_MISMATCH", "PCR values do not match the quoted pcrDigest", {
      expected: `"${toHex(info.pcrDigest)}"`,
      actual: `"${toHex(computed)}"`,
    });
  // suppliedExactly() established that opts.pcrs holds exactly the quoted PCRs.
  return { attest, quoteInfo: info, signatureHash: hash, pcrs: supplied, pcrDigestChecked: true };
}
