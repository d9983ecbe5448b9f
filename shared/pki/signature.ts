import { type AlgorithmIdentifier, bitStringBytes } from "./certificate.ts";
import { children, decodeOid, decodeUnsigned, encodeTlv, expectTag, parseDer, TAG, type Tlv } from "./der.ts";
import { PkiError } from "./errors.ts";
import { OID } from "./oids.ts";

/**
 * Our byte arrays are never backed by a SharedArrayBuffer, but TypeScript's DOM typings cannot know that;
 * this is the one place that says so.
 */
export function bufferSource(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}

type HashName = "SHA-256" | "SHA-384" | "SHA-512";

/** A signature scheme this module verifies, decoded from an AlgorithmIdentifier. */
export type SignatureScheme =
  | { readonly kind: "rsa-pss"; readonly hash: HashName; readonly saltLength: number }
  | { readonly kind: "rsa-pkcs1"; readonly hash: HashName }
  | { readonly kind: "ecdsa"; readonly hash: HashName };

const HASH_BY_OID: Record<string, HashName> = {
  [OID.sha256]: "SHA-256",
  [OID.sha384]: "SHA-384",
  [OID.sha512]: "SHA-512",
};

function unsupported(what: string, actual: string): never {
  throw new PkiError("UNSUPPORTED_ALGORITHM", `Cannot use ${what}`, {
    expected: "RSASSA-PSS, RSASSA-PKCS1-v1_5 or ECDSA with SHA-256/384/512",
    actual,
  });
}

function hashOf(alg: AlgorithmIdentifier): HashName {
  const h = HASH_BY_OID[alg.oid];
  if (h === undefined) unsupported("hash algorithm", alg.oid);
  // RFC 4055 §2.1: the parameters are absent or NULL.
  if (alg.params !== undefined && (alg.params.tag !== TAG.NULL || alg.params.value.length !== 0))
    unsupported("hash parameters", "non-NULL");
  return h;
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1). Defaults (SHA-1, salt 20) are refused: AMD uses SHA-384, MGF1-SHA-384,
 * salt 48, trailer 1, and WebCrypto can only express MGF1 with the message hash.
 *
 * ```asn1
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1Identifier,
 *   maskGenAlgorithm [1] MaskGenAlgorithm DEFAULT mgf1SHA1Identifier, saltLength [2] INTEGER DEFAULT 20,
 *   trailerField [3] INTEGER DEFAULT 1 }
 * ```
 */
function parsePssParams(params: Tlv | undefined): SignatureScheme {
  const fields = children(expectTag(params, TAG.SEQUENCE, "RSASSA-PSS-params"));
  let hash: HashName | undefined;
  let mgfHash: HashName | undefined;
  let saltLength = 20;
  let last = -1;
  for (const f of fields) {
    const n = f.tag - 0xa0;
    if (n < 0 || n > 3 || n <= last) unsupported("RSASSA-PSS-params", `tag 0x${f.tag.toString(16)}`);
    last = n;
    const [inner, ...rest] = children(f);
    if (inner === undefined || rest.length > 0) unsupported("RSASSA-PSS-params", "malformed field");
    if (n === 0) {
      const parts = children(expectTag(inner, TAG.SEQUENCE, "hashAlgorithm"));
      hash = hashOf({ oid: decodeOid(parts[0] as Tlv), params: parts[1] });
    } else if (n === 1) {
      const parts = children(expectTag(inner, TAG.SEQUENCE, "maskGenAlgorithm"));
      if (decodeOid(parts[0] as Tlv) !== OID.mgf1) unsupported("mask generation", "not MGF1");
      const h = children(expectTag(parts[1], TAG.SEQUENCE, "MGF1 hash"));
      mgfHash = hashOf({ oid: decodeOid(h[0] as Tlv), params: h[1] });
    } else if (n === 2) {
      const s = decodeUnsigned(inner, "saltLength");
      if (s > 1024n) unsupported("PSS salt length", String(s));
      saltLength = Number(s);
    } else if (decodeUnsigned(inner, "trailerField") !== 1n) {
      unsupported("PSS trailer field", "not 1");
    }
  }
  if (hash === undefined || mgfHash !== hash)
    unsupported("RSASSA-PSS parameters", `hash ${hash ?? "SHA-1 (default)"}, MGF1 ${mgfHash ?? "SHA-1"}`);
  return { kind: "rsa-pss", hash, saltLength };
}

/** Decode a signatureAlgorithm into a scheme, or throw `UNSUPPORTED_ALGORITHM`. */
export function signatureSchemeOf(alg: AlgorithmIdentifier): SignatureScheme {
  const noParams = (): void => {
    const p = alg.params;
    // RFC 5758 §3.2: ECDSA parameters absent; RFC 8017: PKCS#1 v1.5 parameters NULL.
    if (p !== undefined && !(p.tag === TAG.NULL && p.value.length === 0))
      unsupported(`parameters of ${alg.oid}`, "present");
  };
  switch (alg.oid) {
    case OID.rsassaPss:
      return parsePssParams(alg.params);
    case OID.sha256WithRSAEncryption:
      noParams();
      return { kind: "rsa-pkcs1", hash: "SHA-256" };
    case OID.sha384WithRSAEncryption:
      noParams();
      return { kind: "rsa-pkcs1", hash: "SHA-384" };
    case OID.sha512WithRSAEncryption:
      noParams();
      return { kind: "rsa-pkcs1", hash: "SHA-512" };
    case OID.ecdsaWithSHA256:
      noParams();
      return { kind: "ecdsa", hash: "SHA-256" };
    case OID.ecdsaWithSHA384:
      noParams();
      return { kind: "ecdsa", hash: "SHA-384" };
    case OID.ecdsaWithSHA512:
      noParams();
      return { kind: "ecdsa", hash: "SHA-512" };
    default:
      return unsupported("signature algorithm", alg.oid);
  }
}

const CURVES: Record<string, { name: "P-256" | "P-384" | "P-521"; size: number }> = {
  [OID.secp256r1]: { name: "P-256", size: 32 },
  [OID.secp384r1]: { name: "P-384", size: 48 },
  [OID.secp521r1]: { name: "P-521", size: 66 },
};

/** The curve of an EC SubjectPublicKeyInfo, or undefined for RSA keys. */
function spkiInfo(spki: Uint8Array): { algOid: string; curve?: (typeof CURVES)[string]; key: Uint8Array } {
  const [alg, key] = children(expectTag(parseDer(spki), TAG.SEQUENCE, "SubjectPublicKeyInfo"));
  const algParts = children(expectTag(alg, TAG.SEQUENCE, "AlgorithmIdentifier"));
  const algOid = decodeOid(algParts[0] as Tlv);
  const keyBits = bitStringBytes(key, "subjectPublicKey");
  if (algOid === OID.ecPublicKey) {
    const curve = CURVES[algParts[1] === undefined ? "" : decodeOid(algParts[1])];
    if (curve === undefined) unsupported("EC curve", "not P-256/P-384/P-521");
    return { algOid, curve, key: keyBits };
  }
  if (algOid === OID.rsaEncryption || algOid === OID.rsassaPss) return { algOid, key: keyBits };
  return unsupported("public key algorithm", algOid);
}

/**
 * Import a SubjectPublicKeyInfo for verification under `scheme`. RSA keys published with the id-RSASSA-PSS
 * OID are re-wrapped as rsaEncryption, which is what WebCrypto imports; the scheme's own parameters still
 * come from the signature algorithm.
 */
export async function importVerifyKey(spki: Uint8Array, scheme: SignatureScheme): Promise<CryptoKey> {
  const info = spkiInfo(spki);
  try {
    if (scheme.kind === "ecdsa") {
      if (info.curve === undefined) unsupported("ECDSA signature", "an RSA key");
      return await crypto.subtle.importKey(
        "spki",
        bufferSource(spki),
        { name: "ECDSA", namedCurve: info.curve.name },
        false,
        ["verify"],
      );
    }
    if (info.curve !== undefined) unsupported("RSA signature", "an EC key");
    const rsaSpki =
      info.algOid === OID.rsaEncryption
        ? spki
        : encodeTlv(
            TAG.SEQUENCE,
            concatBytes(
              encodeTlv(
                TAG.SEQUENCE,
                concatBytes(
                  encodeTlv(TAG.OID, RSA_ENCRYPTION_OID_BYTES),
                  encodeTlv(TAG.NULL, new Uint8Array()),
                ),
              ),
              encodeTlv(TAG.BIT_STRING, concatBytes(new Uint8Array([0]), info.key)),
            ),
          );
    return await crypto.subtle.importKey(
      "spki",
      bufferSource(rsaSpki),
      { name: scheme.kind === "rsa-pss" ? "RSA-PSS" : "RSASSA-PKCS1-v1_5", hash: scheme.hash },
      false,
      ["verify"],
    );
  } catch (cause) {
    if (cause instanceof PkiError) throw cause;
    throw new PkiError("UNSUPPORTED_ALGORITHM", "Cannot import public key", { cause });
  }
}

/** DER of 1.2.840.113549.1.1.1 without tag and length. */
const RSA_ENCRYPTION_OID_BYTES = new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]);

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * ECDSA-Sig-Value (RFC 5480 §2.2 / RFC 3279 §2.2.3) `SEQUENCE { r INTEGER, s INTEGER }` to the fixed-width
 * r‖s form WebCrypto verifies.
 */
export function ecdsaDerToRaw(sig: Uint8Array, size: number): Uint8Array {
  const parts = children(expectTag(parseDer(sig), TAG.SEQUENCE, "ECDSA-Sig-Value"));
  if (parts.length !== 2)
    throw new PkiError("SIGNATURE_INVALID", "Cannot read ECDSA-Sig-Value", { expected: "r and s" });
  const out = new Uint8Array(2 * size);
  parts.forEach((p, k) => {
    const n = decodeUnsigned(p, k === 0 ? "r" : "s");
    const hex = n.toString(16).padStart(2 * size, "0");
    if (hex.length > 2 * size)
      throw new PkiError("SIGNATURE_INVALID", "Cannot read ECDSA-Sig-Value", {
        expected: `integers of at most ${size} bytes`,
        actual: `${hex.length / 2} bytes`,
      });
    out.set(Buffer.from(hex, "hex"), k * size);
  });
  return out;
}

/**
 * Verify `signature` over `data` with the key in `issuerSpki` under `scheme` (X.509 signature conventions:
 * ECDSA signatures DER-encoded). Returns false for a wrong signature; throws for unusable keys/algorithms.
 */
export async function verifySignature(
  issuerSpki: Uint8Array,
  scheme: SignatureScheme,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const key = await importVerifyKey(issuerSpki, scheme);
  switch (scheme.kind) {
    case "rsa-pss":
      return crypto.subtle.verify(
        { name: "RSA-PSS", saltLength: scheme.saltLength },
        key,
        bufferSource(signature),
        bufferSource(data),
      );
    case "rsa-pkcs1":
      return crypto.subtle.verify(
        { name: "RSASSA-PKCS1-v1_5" },
        key,
        bufferSource(signature),
        bufferSource(data),
      );
    case "ecdsa": {
      const size = spkiInfo(issuerSpki).curve?.size ?? 0;
      let raw: Uint8Array;
      try {
        raw = ecdsaDerToRaw(signature, size);
      } catch {
        return false; // a malformed signature is a wrong signature
      }
      return crypto.subtle.verify(
        { name: "ECDSA", hash: scheme.hash },
        key,
        bufferSource(raw),
        bufferSource(data),
      );
    }
  }
}
