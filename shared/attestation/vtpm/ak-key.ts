/**
 * The attestation key as a standard public key: SubjectPublicKeyInfo DER, used to compare the AK with a
 * certificate's key, with pinned keys, and for the aws-sev-snp binding (SHA-512 of the AK SPKI).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { bytesEqual, toBase64Url } from "@asterism/bytes";
import { eccParams, rsaParams, TPM_ECC_CURVE, type TPMT_PUBLIC } from "@asterism/tpm";
import { AttestationParseError } from "../errors.ts";

const CURVES = new Map<number, { crv: string; size: number }>([
  [TPM_ECC_CURVE.NIST_P256, { crv: "P-256", size: 32 }],
  [TPM_ECC_CURVE.NIST_P384, { crv: "P-384", size: 48 }],
  [TPM_ECC_CURVE.NIST_P521, { crv: "P-521", size: 66 }],
]);

function pad(b: Uint8Array, size: number): Uint8Array {
  let s = 0;
  while (s < b.length - size && b[s] === 0) s++;
  const t = b.subarray(s);
  const out = new Uint8Array(size);
  out.set(t.subarray(Math.max(0, t.length - size)), Math.max(0, size - t.length));
  return out;
}

/** The AK as a node KeyObject (RSA exponent 0 means 65537, TPM 2.0 Part 2 §12.2.3.5). */
export function akKeyObject(pub: TPMT_PUBLIC): KeyObject {
  let jwk: { kty: string; n?: string; e?: string; crv?: string; x?: string; y?: string };
  const rsa = rsaParams(pub);
  const ecc = eccParams(pub);
  if (rsa) {
    const e = rsa.parms.exponent === 0 ? 65537 : rsa.parms.exponent;
    const eb = new Uint8Array(4);
    new DataView(eb.buffer).setUint32(0, e);
    let i = 0;
    while (i < 3 && eb[i] === 0) i++;
    jwk = { kty: "RSA", n: toBase64Url(rsa.modulus), e: toBase64Url(eb.subarray(i)) };
  } else if (ecc) {
    const c = CURVES.get(ecc.parms.curveID);
    if (!c) {
      throw new AttestationParseError("INVALID_EVIDENCE", "Cannot use the attestation key", {
        expected: "NIST P-256, P-384 or P-521",
        actual: `curve 0x${ecc.parms.curveID.toString(16)}`,
      });
    }
    jwk = {
      kty: "EC",
      crv: c.crv,
      x: toBase64Url(pad(ecc.point.x, c.size)),
      y: toBase64Url(pad(ecc.point.y, c.size)),
    };
  } else {
    throw new AttestationParseError("INVALID_EVIDENCE", "Cannot use the attestation key", {
      expected: "an RSA or ECC key",
      actual: `type 0x${pub.type.toString(16)}`,
    });
  }
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch (cause) {
    throw new AttestationParseError("INVALID_EVIDENCE", "Cannot use the attestation key", { cause });
  }
}

/** DER SubjectPublicKeyInfo of the AK (canonical: produced by OpenSSL from the key parameters). */
export function akSpki(pub: TPMT_PUBLIC): Uint8Array {
  return new Uint8Array(akKeyObject(pub).export({ type: "spki", format: "der" }));
}

/**
 * True when `spki` (e.g. from a certificate) is the same public key as `akSpkiDer`. Both are re-encoded
 * through OpenSSL so that equivalent encodings (e.g. explicit vs named curve parameters are rejected by
 * OpenSSL anyway) compare equal.
 */
export function sameKey(akSpkiDer: Uint8Array, spki: Uint8Array): boolean {
  try {
    const other = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
    return bytesEqual(akSpkiDer, new Uint8Array(other.export({ type: "spki", format: "der" })));
  } catch {
    return false;
  }
}
