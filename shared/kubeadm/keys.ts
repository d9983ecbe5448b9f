import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { PkiError } from "./errors.ts";
import { x509 } from "./x509.ts";

/**
 * Key algorithms, named as kubeadm's `ClusterConfiguration.encryptionAlgorithm` (kubeadm.k8s.io/v1beta4)
 * names them. kubeadm loads CA keys of any of these types (PKCS#1, SEC1 or PKCS#8 PEM).
 */
export type KeyAlgorithm = "ECDSA-P256" | "ECDSA-P384" | "RSA-2048" | "RSA-3072" | "RSA-4096";

/** Every accepted {@link KeyAlgorithm}, for validation of configuration. */
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = [
  "ECDSA-P256",
  "ECDSA-P384",
  "RSA-2048",
  "RSA-3072",
  "RSA-4096",
];

const RSA_PUBLIC_EXPONENT = new Uint8Array([1, 0, 1]);

function generationParams(alg: KeyAlgorithm): EcKeyGenParams | RsaHashedKeyGenParams {
  switch (alg) {
    case "ECDSA-P256":
      return { name: "ECDSA", namedCurve: "P-256" };
    case "ECDSA-P384":
      return { name: "ECDSA", namedCurve: "P-384" };
    case "RSA-2048":
    case "RSA-3072":
    case "RSA-4096":
      return {
        name: "RSASSA-PKCS1-v1_5",
        modulusLength: Number(alg.slice(4)),
        publicExponent: RSA_PUBLIC_EXPONENT,
        hash: "SHA-256",
      };
  }
}

/** A fresh, extractable signing key pair (extractable because kubeadm needs the private key as a file). */
export async function generateKeyPair(alg: KeyAlgorithm, crypto: Crypto): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(generationParams(alg), true, ["sign", "verify"])) as CryptoKeyPair;
}

/** The signature algorithm a CA key signs with: ECDSA with the curve's matching hash, or RSA PKCS#1 v1.5 SHA-256. */
export function signingAlgorithmFor(key: CryptoKey): Algorithm | EcdsaParams {
  const alg = key.algorithm as Partial<EcKeyAlgorithm> & Algorithm;
  if (alg.name === "ECDSA")
    return { name: "ECDSA", hash: alg.namedCurve === "P-384" ? "SHA-384" : "SHA-256" };
  return { name: "RSASSA-PKCS1-v1_5" };
}

/** PKCS#8 PEM (`PRIVATE KEY`) of a private key; kubeadm's keyutil reads this form. */
export async function privateKeyToPem(key: CryptoKey, crypto: Crypto): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

/** SubjectPublicKeyInfo PEM (`PUBLIC KEY`), the form of kubeadm's `sa.pub`. */
export async function publicKeyToPem(key: CryptoKey, crypto: Crypto): Promise<string> {
  const der = await crypto.subtle.exportKey("spki", key);
  return x509.PemConverter.encode(der, "PUBLIC KEY");
}

/** A private key loaded from PEM, with the DER SubjectPublicKeyInfo of its public half. */
export interface LoadedPrivateKey {
  readonly key: CryptoKey;
  readonly spki: Uint8Array;
}

function keyObjectFromPem(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (cause) {
    throw new PkiError("PEM_INVALID", `Cannot parse ${what}`, {
      expected: "an unencrypted PKCS#1, SEC1 or PKCS#8 PEM private key",
      actual: "unparseable PEM",
      cause,
    });
  }
}

/**
 * Loads a PEM private key in any form kubeadm writes or reads (`RSA PRIVATE KEY`, `EC PRIVATE KEY`,
 * `PRIVATE KEY`) into a non-extractable WebCrypto signing key. Only RSA ≥ 2048 bits and ECDSA P-256/P-384
 * are accepted.
 */
export async function importPrivateKeyPem(
  pem: string,
  crypto: Crypto,
  what = "private key",
): Promise<LoadedPrivateKey> {
  const obj = keyObjectFromPem(pem, what);
  const pkcs8 = obj.export({ format: "der", type: "pkcs8" });
  const spki = new Uint8Array(createPublicKey(obj).export({ format: "der", type: "spki" }));
  const type = obj.asymmetricKeyType;
  const details = obj.asymmetricKeyDetails ?? {};
  let params: EcKeyImportParams | RsaHashedImportParams;
  if (type === "ec" && (details.namedCurve === "prime256v1" || details.namedCurve === "secp384r1")) {
    params = { name: "ECDSA", namedCurve: details.namedCurve === "prime256v1" ? "P-256" : "P-384" };
  } else if (type === "rsa" && (details.modulusLength ?? 0) >= 2048) {
    params = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  } else {
    throw new PkiError("KEY_UNSUPPORTED", `Cannot use ${what}`, {
      expected: "ECDSA P-256/P-384 or RSA ≥ 2048 bits",
      actual: `${type ?? "unknown"}${details.namedCurve ? ` ${details.namedCurve}` : ""}${details.modulusLength ? ` ${details.modulusLength} bits` : ""}`,
    });
  }
  const key = await crypto.subtle.importKey("pkcs8", new Uint8Array(pkcs8), params, false, ["sign"]);
  return { key, spki };
}
