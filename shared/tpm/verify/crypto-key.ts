import { toBase64Url } from "@asterism/bytes";
import { TPM_ALG, TPM_ECC_CURVE } from "../constants.ts";
import { QuoteVerificationError } from "../errors.ts";
import { hashInfo } from "../hash.ts";
import { eccParams, rsaParams, type TPMT_PUBLIC } from "../structures/public.ts";

/** Part 2 §6.4 TPM_ECC_CURVE → WebCrypto curve and coordinate size. */
const CURVES: ReadonlyMap<number, { readonly name: "P-256" | "P-384" | "P-521"; readonly size: number }> =
  new Map([
    [TPM_ECC_CURVE.NIST_P256, { name: "P-256", size: 32 }],
    [TPM_ECC_CURVE.NIST_P384, { name: "P-384", size: 48 }],
    [TPM_ECC_CURVE.NIST_P521, { name: "P-521", size: 66 }],
  ] as const);

/** Coordinate size of a TPM ECC curve, or undefined for curves WebCrypto lacks (BN, SM2). */
export function curveSize(curveID: number): number | undefined {
  return CURVES.get(curveID)?.size;
}

/**
 * Big-endian integer to exactly `size` bytes: leading zeros are stripped or added; a value that needs
 * more than `size` bytes is rejected (it cannot be a coordinate or signature half on that curve).
 */
export function fixedWidth(v: Uint8Array, size: number, what: string): Uint8Array {
  let start = 0;
  while (start < v.length - size && v[start] === 0) start++;
  const t = v.subarray(start);
  if (t.length > size)
    throw new QuoteVerificationError("MALFORMED", `${what} too long for the curve`, {
      expected: `≤ ${size} bytes`,
      actual: `${v.length} bytes`,
    });
  const out = new Uint8Array(size);
  out.set(t, size - t.length);
  return out;
}

function unsupported(what: string, actual: number): QuoteVerificationError {
  return new QuoteVerificationError("UNSUPPORTED_ALGORITHM", `Unsupported ${what}`, {
    actual: `0x${actual.toString(16)}`,
  });
}

/**
 * The key's own signing scheme, or for scheme TPM_ALG_NULL: RSASSA / ECDSA with the key's nameAlg.
 */
export function defaultScheme(pub: TPMT_PUBLIC): { sigAlg: number; hashAlg: number } {
  const scheme = (rsaParams(pub)?.parms ?? eccParams(pub)?.parms)?.scheme;
  if (scheme && scheme.scheme !== TPM_ALG.NULL)
    return {
      sigAlg: scheme.scheme,
      hashAlg: (scheme.details as { hashAlg: number } | null)?.hashAlg ?? pub.nameAlg,
    };
  return { sigAlg: pub.type === TPM_ALG.ECC ? TPM_ALG.ECDSA : TPM_ALG.RSASSA, hashAlg: pub.nameAlg };
}

/**
 * Import a TPMT_PUBLIC (RSA or ECC) as a WebCrypto verification key for the signature scheme `sigAlg`
 * (TPM_ALG_RSASSA, _RSAPSS or _ECDSA) and hash `hashAlg` (default: the key's own scheme, see
 * {@link defaultScheme}). RSA exponent 0 means 65537 (Part 2 §12.2.3.5).
 *
 * @example
 * const key = await tpmPublicToCryptoKey(akPublic, TPM_ALG.RSASSA, TPM_ALG.SHA256);
 */
export async function tpmPublicToCryptoKey(
  pub: TPMT_PUBLIC,
  sigAlg: number = defaultScheme(pub).sigAlg,
  hashAlg: number = defaultScheme(pub).hashAlg,
): Promise<CryptoKey> {
  const hash = hashInfo(hashAlg);
  if (!hash) throw unsupported("signature hash", hashAlg);
  const rsa = rsaParams(pub);
  if (rsa) {
    if (sigAlg !== TPM_ALG.RSASSA && sigAlg !== TPM_ALG.RSAPSS)
      throw unsupported("RSA signature scheme", sigAlg);
    if (rsa.modulus.length * 8 !== rsa.parms.keyBits || rsa.parms.keyBits < 2048)
      throw new QuoteVerificationError("UNSUPPORTED_ALGORITHM", "RSA key size not accepted", {
        expected: "keyBits ≥ 2048 matching the modulus",
        actual: `keyBits ${rsa.parms.keyBits}, modulus ${rsa.modulus.length * 8} bits`,
      });
    const e = rsa.parms.exponent === 0 ? 65537 : rsa.parms.exponent;
    const eBytes = new Uint8Array(4);
    new DataView(eBytes.buffer).setUint32(0, e);
    let i = 0;
    while (eBytes[i] === 0) i++;
    const jwk: JsonWebKey = { kty: "RSA", n: toBase64Url(rsa.modulus), e: toBase64Url(eBytes.subarray(i)) };
    const name = sigAlg === TPM_ALG.RSASSA ? "RSASSA-PKCS1-v1_5" : "RSA-PSS";
    return importJwk(jwk, { name, hash: hash.webcrypto });
  }
  const ecc = eccParams(pub);
  if (ecc) {
    if (sigAlg !== TPM_ALG.ECDSA) throw unsupported("ECC signature scheme", sigAlg);
    const curve = CURVES.get(ecc.parms.curveID);
    if (!curve) throw unsupported("ECC curve", ecc.parms.curveID);
    const jwk: JsonWebKey = {
      kty: "EC",
      crv: curve.name,
      x: toBase64Url(fixedWidth(ecc.point.x, curve.size, "ECC point x")),
      y: toBase64Url(fixedWidth(ecc.point.y, curve.size, "ECC point y")),
    };
    return importJwk(jwk, { name: "ECDSA", namedCurve: curve.name });
  }
  throw unsupported("key type", pub.type);
}

async function importJwk(
  jwk: JsonWebKey,
  alg: RsaHashedImportParams | EcKeyImportParams,
): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey("jwk", jwk, alg, false, ["verify"]);
  } catch (err) {
    throw new QuoteVerificationError("MALFORMED", "Cannot import the attestation key", { cause: err });
  }
}

/**
 * The SubjectPublicKeyInfo (DER) of an RSA or ECC TPMT_PUBLIC, e.g. to compare with the key in an AK or
 * EK certificate (`bytesEqual(await tpmPublicToSpki(ak), cert.publicKey.rawData)`).
 */
export async function tpmPublicToSpki(pub: TPMT_PUBLIC): Promise<Uint8Array> {
  const rsa = rsaParams(pub);
  const ecc = eccParams(pub);
  let key: CryptoKey;
  try {
    if (rsa) {
      const e = rsa.parms.exponent === 0 ? 65537 : rsa.parms.exponent;
      const eBytes = new Uint8Array(4);
      new DataView(eBytes.buffer).setUint32(0, e);
      let i = 0;
      while (eBytes[i] === 0) i++;
      key = await crypto.subtle.importKey(
        "jwk",
        { kty: "RSA", n: toBase64Url(rsa.modulus), e: toBase64Url(eBytes.subarray(i)) },
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        true,
        ["verify"],
      );
    } else if (ecc) {
      const curve = CURVES.get(ecc.parms.curveID);
      if (!curve) throw unsupported("ECC curve", ecc.parms.curveID);
      key = await crypto.subtle.importKey(
        "jwk",
        {
          kty: "EC",
          crv: curve.name,
          x: toBase64Url(fixedWidth(ecc.point.x, curve.size, "ECC point x")),
          y: toBase64Url(fixedWidth(ecc.point.y, curve.size, "ECC point y")),
        },
        { name: "ECDSA", namedCurve: curve.name },
        true,
        ["verify"],
      );
    } else {
      throw unsupported("key type", pub.type);
    }
  } catch (err) {
    if (err instanceof QuoteVerificationError) throw err;
    throw new QuoteVerificationError("MALFORMED", "Cannot import the TPM public key", { cause: err });
  }
  return new Uint8Array(await crypto.subtle.exportKey("spki", key));
}
