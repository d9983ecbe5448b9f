import { bytesEqual, constantTimeEqual, toHex } from "@asterism/bytes";
import { CodecError, decode } from "@asterism/codec";
import type { PcrBanks } from "../commands/pcr.ts";
import { TPM_ALG, TPM_ST } from "../constants.ts";
import { QuoteVerificationError } from "../errors.ts";
import { digest, type HashInfo, hashInfo } from "../hash.ts";
import { TPMS_ATTEST, type TPMS_QUOTE_INFO } from "../structures/attest.ts";
import type { PcrSelection } from "../structures/basic.ts";
import {
  eccParams,
  rsaParams,
  type TPMT_PUBLIC,
  TPMT_PUBLIC as TPMT_PUBLIC_CODEC,
} from "../structures/public.ts";
import { type TPMS_SIGNATURE_ECC, type TPMS_SIGNATURE_RSA, TPMT_SIGNATURE } from "../structures/signature.ts";
import { curveSize, fixedWidth, tpmPublicToCryptoKey } from "./crypto-key.ts";

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
  /** The claimed PCR values; exactly the quoted PCRs must be given (no more, no fewer). */
  readonly pcrs: PcrBanks;
  /** When set, the quote must select exactly these PCRs. */
  readonly expectedSelection?: readonly PcrSelection[];
}

/** What a verified quote proves: these PCR values were in the AK's TPM when it signed this nonce. */
export interface VerifiedQuote {
  readonly attest: TPMS_ATTEST;
  readonly quoteInfo: TPMS_QUOTE_INFO;
  /** The signature's hash, which is also the pcrDigest hash. */
  readonly signatureHash: HashInfo;
  /** The quoted PCR values (now authenticated), per bank. */
  readonly pcrs: PcrBanks;
}

const keyCache = new WeakMap<TPMT_PUBLIC, Map<string, Promise<CryptoKey>>>();

function cachedKey(pub: TPMT_PUBLIC, sigAlg: number, hashAlg: number): Promise<CryptoKey> {
  let m = keyCache.get(pub);
  if (!m) {
    m = new Map();
    keyCache.set(pub, m);
  }
  const k = `${sigAlg}:${hashAlg}`;
  let p = m.get(k);
  if (!p) {
    p = tpmPublicToCryptoKey(pub, sigAlg, hashAlg);
    // A failed import is not cached: the next call reports the same error afresh.
    p.catch(() => m?.delete(k));
    m.set(k, p);
  }
  return p;
}

function parse<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof CodecError)
      throw new QuoteVerificationError("MALFORMED", `Cannot parse ${what}`, {
        actual: err.message,
        cause: err,
      });
    throw err;
  }
}

/** Parse TPMT_PUBLIC bytes (rejects trailing bytes, unknown types and reserved attribute bits). */
export function parseTpmtPublic(bytes: Uint8Array): TPMT_PUBLIC {
  return decode(TPMT_PUBLIC_CODEC, bytes);
}

/** Parse TPMS_ATTEST bytes. */
export function parseTpmsAttest(bytes: Uint8Array): TPMS_ATTEST {
  return decode(TPMS_ATTEST, bytes);
}

/**
 * The quote's PCR digest: H_sig(PCR values in TPML_PCR_SELECTION order, ascending within a bank), per
 * Part 3 §18.4.1 ("the digest is computed using the hash of the signing scheme").
 */
export function computePcrDigest(
  hash: HashInfo,
  selection: readonly PcrSelection[],
  pcrs: PcrBanks,
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const sel of selection) {
    const bank = pcrs.get(sel.hash);
    for (const i of sel.pcrSelect) {
      const v = bank?.get(i);
      if (!v)
        throw new QuoteVerificationError("PCR_MISSING", "No value supplied for a quoted PCR", {
          expected: `${hashInfo(sel.hash)?.name ?? `0x${sel.hash.toString(16)}`} PCR ${i}`,
        });
      parts.push(v);
    }
  }
  return digest(hash, ...parts);
}

function selectionKey(sel: readonly PcrSelection[]): string {
  const m = new Map<number, Set<number>>();
  for (const s of sel)
    for (const p of s.pcrSelect) (m.get(s.hash) ?? m.set(s.hash, new Set()).get(s.hash))?.add(p);
  return [...m]
    .filter(([, s]) => s.size)
    .sort(([a], [b]) => a - b)
    .map(([h, s]) => `${h}:${[...s].sort((a, b) => a - b).join(",")}`)
    .join(";");
}

async function verifySignature(
  pub: TPMT_PUBLIC,
  sigBytes: Uint8Array,
  signed: Uint8Array,
): Promise<HashInfo> {
  const sig = parse("TPMT_SIGNATURE", () => decode(TPMT_SIGNATURE, sigBytes));
  const rsa = rsaParams(pub);
  const ecc = eccParams(pub);
  const keyScheme = rsa?.parms.scheme ?? ecc?.parms.scheme;
  if (keyScheme && keyScheme.scheme !== TPM_ALG.NULL) {
    const keyHash = (keyScheme.details as { hashAlg: number } | null)?.hashAlg;
    const sigHash = (sig.signature as { hash?: number } | null)?.hash;
    if (keyScheme.scheme !== sig.sigAlg || keyHash !== sigHash)
      throw new QuoteVerificationError("SCHEME_MISMATCH", "Signature scheme differs from the AK's scheme", {
        expected: `0x${keyScheme.scheme.toString(16)}/0x${keyHash?.toString(16)}`,
        actual: `0x${sig.sigAlg.toString(16)}/0x${sigHash?.toString(16)}`,
      });
  }
  let hashAlg: number;
  let raw: Uint8Array;
  let alg: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
  const algs: (RsaPssParams | EcdsaParams | AlgorithmIdentifier)[] = [];
  switch (sig.sigAlg) {
    case TPM_ALG.RSASSA:
    case TPM_ALG.RSAPSS: {
      const s = sig.signature as TPMS_SIGNATURE_RSA;
      hashAlg = s.hash;
      raw = s.sig;
      if (!rsa) throw new QuoteVerificationError("SCHEME_MISMATCH", "RSA signature from a non-RSA key");
      if (sig.sigAlg === TPM_ALG.RSASSA) algs.push({ name: "RSASSA-PKCS1-v1_5" });
      else {
        // TPMs use salt = hash size (FIPS 186-4) or, before Part 1 rev 1.38, the maximum salt.
        const h = hashInfo(hashAlg);
        if (h) {
          algs.push({ name: "RSA-PSS", saltLength: h.size } as RsaPssParams);
          algs.push({ name: "RSA-PSS", saltLength: rsa.modulus.length - h.size - 2 } as RsaPssParams);
        }
      }
      break;
    }
    case TPM_ALG.ECDSA: {
      const s = sig.signature as TPMS_SIGNATURE_ECC;
      hashAlg = s.hash;
      if (!ecc) throw new QuoteVerificationError("SCHEME_MISMATCH", "ECDSA signature from a non-ECC key");
      const size = curveSize(ecc.parms.curveID);
      if (!size)
        throw new QuoteVerificationError("UNSUPPORTED_ALGORITHM", "Unsupported ECC curve", {
          actual: `0x${ecc.parms.curveID.toString(16)}`,
        });
      raw = new Uint8Array(2 * size);
      raw.set(fixedWidth(s.signatureR, size, "ECDSA r"));
      raw.set(fixedWidth(s.signatureS, size, "ECDSA s"), size);
      break;
    }
    default:
      throw new QuoteVerificationError("UNSUPPORTED_ALGORITHM", "Unsupported signature scheme", {
        expected: "RSASSA, RSAPSS or ECDSA",
        actual: `0x${sig.sigAlg.toString(16)}`,
      });
  }
  const hash = hashInfo(hashAlg);
  if (!hash)
    throw new QuoteVerificationError("UNSUPPORTED_ALGORITHM", "Unsupported signature hash", {
      actual: `0x${hashAlg.toString(16)}`,
    });
  if (sig.sigAlg === TPM_ALG.ECDSA) algs.push({ name: "ECDSA", hash: hash.webcrypto } as EcdsaParams);
  const key = await cachedKey(pub, sig.sigAlg, hashAlg);
  for (alg of algs)
    if (await crypto.subtle.verify(alg, key, raw as BufferSource, signed as BufferSource)) return hash;
  throw new QuoteVerificationError("SIGNATURE_INVALID", "Quote signature does not verify", {
    actual: `${hash.name} signature over ${signed.length} bytes`,
  });
}

/**
 * Verify a TPM2_Quote (authenticity only; PCR *policy* is the caller's validate step):
 * 1. the AK is a restricted signing key (else it could sign a forged TPMS_ATTEST);
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
      ? parse("TPMT_PUBLIC", () => parseTpmtPublic(opts.akPublic as Uint8Array))
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
  const hash = await verifySignature(pub, opts.signature, opts.attest);
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
    throw parse("TPMS_ATTEST", () => {
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
  const quoted = selectionKey(info.pcrSelect);
  if (opts.expectedSelection && selectionKey(opts.expectedSelection) !== quoted)
    throw new QuoteVerificationError("PCR_SELECTION_MISMATCH", "Quote selects other PCRs than expected", {
      expected: selectionKey(opts.expectedSelection),
      actual: quoted,
    });
  const supplied = selectionKey([...opts.pcrs].map(([h, m]) => ({ hash: h, pcrSelect: [...m.keys()] })));
  if (supplied !== quoted) {
    const code = computeMissing(info.pcrSelect, opts.pcrs) ? "PCR_MISSING" : "PCR_SELECTION_MISMATCH";
    throw new QuoteVerificationError(code, "Supplied PCR values do not match the quote's selection", {
      expected: quoted,
      actual: supplied,
    });
  }
  const computed = computePcrDigest(hash, info.pcrSelect, opts.pcrs);
  if (!bytesEqual(computed, info.pcrDigest))
    throw new QuoteVerificationError("PCR_DIGEST_MISMATCH", "PCR values do not match the quoted pcrDigest", {
      expected: `"${toHex(info.pcrDigest)}"`,
      actual: `"${toHex(computed)}"`,
    });
  const pcrs: PcrBanks = new Map();
  for (const sel of info.pcrSelect) {
    const m = pcrs.get(sel.hash) ?? new Map<number, Uint8Array>();
    for (const i of sel.pcrSelect) m.set(i, opts.pcrs.get(sel.hash)?.get(i) as Uint8Array);
    pcrs.set(sel.hash, m);
  }
  return { attest, quoteInfo: info, signatureHash: hash, pcrs };
}

function computeMissing(sel: readonly PcrSelection[], pcrs: PcrBanks): boolean {
  return sel.some((s) => s.pcrSelect.some((i) => !pcrs.get(s.hash)?.has(i)));
}
