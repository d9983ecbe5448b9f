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
  /**
   * The claimed PCR values; exactly the quoted PCRs must be given (no more, no fewer). When omitted, the
   * quote's selection and pcrDigest are NOT checked (`pcrDigestChecked: false`): only use that to check a
   * quote's signature and nonce, never to accept PCR values.
   */
  readonly pcrs?: PcrBanks;
  /** When set, the quote must select exactly these PCRs. */
  readonly expectedSelection?: readonly PcrSelection[];
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
 * Imported WebCrypto keys per TPMT_PUBLIC object (importing costs as much as a verification). Each entry
 * keeps a copy of the key material it was imported from and is used only while the object still holds
 * exactly that material, so mutating a TPMT_PUBLIC after use can never verify against a stale key.
 */
const keyCache = new WeakMap<TPMT_PUBLIC, { material: KeyMaterial; keys: Map<number, Promise<CryptoKey>> }>();

/** What the imported key depends on: parameters and (copied) public bytes. */
interface KeyMaterial {
  readonly params: number;
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

function sameMaterial(m: KeyMaterial, pub: TPMT_PUBLIC): boolean {
  const rsa = rsaParams(pub);
  if (rsa)
    return m.params === rsa.parms.keyBits * 2 ** 32 + rsa.parms.exponent && bytesEqual(m.a, rsa.modulus);
  const ecc = eccParams(pub);
  if (ecc)
    return m.params === ecc.parms.curveID && bytesEqual(m.a, ecc.point.x) && bytesEqual(m.b, ecc.point.y);
  return false;
}

function materialOf(pub: TPMT_PUBLIC): KeyMaterial {
  const rsa = rsaParams(pub);
  if (rsa)
    return {
      params: rsa.parms.keyBits * 2 ** 32 + rsa.parms.exponent,
      a: rsa.modulus.slice(),
      b: new Uint8Array(0),
    };
  const ecc = eccParams(pub);
  if (ecc) return { params: ecc.parms.curveID, a: ecc.point.x.slice(), b: ecc.point.y.slice() };
  return { params: -1, a: new Uint8Array(0), b: new Uint8Array(0) };
}

function cachedKey(pub: TPMT_PUBLIC, sigAlg: number, hashAlg: number): Promise<CryptoKey> {
  let entry = keyCache.get(pub);
  if (!entry || !sameMaterial(entry.material, pub)) {
    entry = { material: materialOf(pub), keys: new Map() };
    keyCache.set(pub, entry);
  }
  const keys = entry.keys;
  const k = sigAlg * 0x10000 + hashAlg;
  let p = keys.get(k);
  if (!p) {
    p = tpmPublicToCryptoKey(pub, sigAlg, hashAlg);
    // A failed import is not cached: the next call reports the same error afresh.
    p.catch(() => keys.delete(k));
    keys.set(k, p);
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

/**
 * Check the signature's form against the AK synchronously (throws at once), then return the pending
 * WebCrypto verification, so that the caller can do its own checks while the signature is verified.
 */
function startSignatureCheck(
  pub: TPMT_PUBLIC,
  sigBytes: Uint8Array,
  signed: Uint8Array,
): { hash: HashInfo; verified: Promise<void> } {
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
  const keyPromise = cachedKey(pub, sig.sigAlg, hashAlg);
  const verified = (async () => {
    const key = await keyPromise;
    for (const alg of algs)
      if (await crypto.subtle.verify(alg, key, raw as BufferSource, signed as BufferSource)) return;
    throw new QuoteVerificationError("SIGNATURE_INVALID", "Quote signature does not verify", {
      actual: `${hash.name} signature over ${signed.length} bytes`,
    });
  })();
  return { hash, verified };
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
  const { hash, verified } = startSignatureCheck(pub, opts.signature, opts.attest);
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

/**
 * True when `pcrs` holds exactly the PCRs `sel` selects: every selected one present and nothing else
 * (a value the quote does not cover must not look authenticated to the caller).
 */
function suppliedExactly(sel: readonly PcrSelection[], pcrs: PcrBanks): boolean {
  let selected = 0;
  let seenBanks = 0;
  for (const s of sel) {
    if (!s.pcrSelect.length) continue;
    seenBanks++;
    const bank = pcrs.get(s.hash);
    if (!bank) return false;
    for (const p of s.pcrSelect) if (!bank.has(p)) return false;
    selected += s.pcrSelect.length;
  }
  let supplied = 0;
  for (const bank of pcrs.values()) supplied += bank.size;
  // A bank listed twice makes the counts ambiguous: fall back to exact set comparison.
  if (seenBanks > 1 && hasDuplicateBank(sel))
    return sameSelection(
      [...pcrs].map(([h, m]) => ({ hash: h, pcrSelect: [...m.keys()] })),
      sel,
    );
  return supplied === selected;
}

function hasDuplicateBank(sel: readonly PcrSelection[]): boolean {
  for (let i = 0; i < sel.length; i++)
    for (let j = i + 1; j < sel.length; j++)
      if (sel[i]?.hash === sel[j]?.hash && sel[i]?.pcrSelect.length && sel[j]?.pcrSelect.length) return true;
  return false;
}

/** Set equality of two selections (bank → PCR set), ignoring order, duplicates and empty banks. */
function sameSelection(a: readonly PcrSelection[], b: readonly PcrSelection[]): boolean {
  const toMap = (sel: readonly PcrSelection[]) => {
    const m = new Map<number, Set<number>>();
    for (const s of sel) {
      if (!s.pcrSelect.length) continue;
      let set = m.get(s.hash);
      if (!set) {
        set = new Set();
        m.set(s.hash, set);
      }
      for (const p of s.pcrSelect) set.add(p);
    }
    return m;
  };
  const ma = toMap(a);
  const mb = toMap(b);
  if (ma.size !== mb.size) return false;
  for (const [h, sa] of ma) {
    const sb = mb.get(h);
    if (!sb || sb.size !== sa.size) return false;
    for (const p of sa) if (!sb.has(p)) return false;
  }
  return true;
}

function computeMissing(sel: readonly PcrSelection[], pcrs: PcrBanks): boolean {
  return sel.some((s) => s.pcrSelect.some((i) => !pcrs.get(s.hash)?.has(i)));
}
