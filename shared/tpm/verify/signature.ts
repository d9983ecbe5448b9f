import { bytesEqual } from "@asterism/bytes";
import { decode } from "@asterism/codec";
import { TPM_ALG } from "../constants.ts";
import { QuoteVerificationError } from "../errors.ts";
import { type HashInfo, hashInfo } from "../hash.ts";
import { eccParams, rsaParams, type TPMT_PUBLIC } from "../structures/public.ts";
import { type TPMS_SIGNATURE_ECC, type TPMS_SIGNATURE_RSA, TPMT_SIGNATURE } from "../structures/signature.ts";
import { curveSize, fixedWidth, tpmPublicToCryptoKey } from "./crypto-key.ts";
import { parseOrMalformed } from "./parse.ts";

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

/**
 * Check the signature's form against the AK synchronously (throws at once), then return the pending
 * WebCrypto verification, so that the caller can do its own checks while the signature is verified.
 */
export function startSignatureCheck(
  pub: TPMT_PUBLIC,
  sigBytes: Uint8Array,
  signed: Uint8Array,
  allowSha1: boolean,
): { hash: HashInfo; verified: Promise<void> } {
  const sig = parseOrMalformed("TPMT_SIGNATURE", () => decode(TPMT_SIGNATURE, sigBytes));
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
  if (!hash || (hash.alg === TPM_ALG.SHA1 && !allowSha1))
    throw new QuoteVerificationError("UNSUPPORTED_ALGORITHM", "Unsupported signature hash", {
      expected: allowSha1 ? "SHA-1/256/384/512" : "SHA-256/384/512 (SHA-1 only with allowSha1)",
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
