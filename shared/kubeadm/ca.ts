import { toHex } from "@asterism/bytes";
import { type PkiDeps, resolvePkiDeps } from "./deps.ts";
import { PkiError } from "./errors.ts";
import {
  generateKeyPair,
  importPrivateKeyPem,
  type KeyAlgorithm,
  privateKeyToPem,
  publicKeyToPem,
  signingAlgorithmFor,
} from "./keys.ts";
import { randomSerial } from "./serial.ts";
import { x509 } from "./x509.ts";

/** kubeadm's default CA lifetime (`caCertificateValidityPeriod`, 87600h = 10 years). */
export const CA_VALIDITY_MS = 87_600 * 3_600_000;
/** Backdating of NotBefore for clock skew between nodes, as kubeadm does (`CertificateBackdate`, 5 min). */
export const CERT_BACKDATE_MS = 5 * 60_000;

/** Common names kubeadm gives its three CAs (`kubeadm init phase certs`). */
export const CA_COMMON_NAMES = {
  ca: "kubernetes",
  frontProxyCa: "front-proxy-ca",
  etcdCa: "etcd-ca",
} as const;

/** A CA certificate with its private key, loaded and checked. */
export interface CertificateAuthority {
  readonly cert: x509.X509Certificate;
  /** Non-extractable signing key. */
  readonly key: CryptoKey;
  /** The certificate as PEM (`ca.crt`). */
  readonly certPem: string;
  /** The private key as PEM (`ca.key`); secret, shipped only to attested control-plane nodes. */
  readonly keyPem: string;
}

/** Options of {@link generateCa}. */
export interface GenerateCaOptions {
  readonly commonName: string;
  /** Default `ECDSA-P256` (see the module documentation for why). */
  readonly algorithm?: KeyAlgorithm;
  /** Lifetime in milliseconds; default {@link CA_VALIDITY_MS}. */
  readonly validityMs?: number;
}

/**
 * Generates a self-signed CA the way kubeadm's `NewSelfSignedCACert` shapes it: subject CN only, random
 * serial, NotBefore backdated 5 minutes, critical basicConstraints CA:TRUE, critical keyUsage
 * keyCertSign|cRLSign|digitalSignature, subjectKeyIdentifier.
 */
export async function generateCa(
  options: GenerateCaOptions,
  deps: Partial<PkiDeps> = {},
): Promise<CertificateAuthority> {
  const d = resolvePkiDeps(deps);
  const keys = await generateKeyPair(options.algorithm ?? "ECDSA-P256", d.crypto);
  const now = d.now().getTime();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(d.randomBytes),
      name: [{ CN: [options.commonName] }],
      notBefore: new Date(now - CERT_BACKDATE_MS),
      notAfter: new Date(now + (options.validityMs ?? CA_VALIDITY_MS)),
      keys,
      signingAlgorithm: signingAlgorithmFor(keys.privateKey),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, d.crypto),
      ],
    },
    d.crypto,
  );
  const keyPem = await privateKeyToPem(keys.privateKey, d.crypto);
  // Re-load through the same path as files from disk, so a generated CA is held exactly like a loaded one
  // (non-extractable key) and passes the same checks.
  return loadCa(cert.toString("pem"), keyPem, d);
}

/** A parsed certificate with the parts we inspect decoded eagerly (so later access cannot throw untyped). */
interface InspectedCertificate {
  readonly cert: x509.X509Certificate;
  readonly basicConstraints: x509.BasicConstraintsExtension | null;
  readonly keyUsage: x509.KeyUsagesExtension | null;
  readonly spki: Uint8Array<ArrayBuffer>;
}

function parseCertificate(input: string | Uint8Array, what: string): InspectedCertificate {
  try {
    const cert = new x509.X509Certificate(typeof input === "string" ? input : new Uint8Array(input));
    return {
      cert,
      basicConstraints: cert.getExtension(x509.BasicConstraintsExtension),
      keyUsage: cert.getExtension(x509.KeyUsagesExtension),
      spki: new Uint8Array(cert.publicKey.rawData),
    };
  } catch (cause) {
    throw new PkiError("PEM_INVALID", `Cannot parse ${what}`, {
      expected: typeof input === "string" ? "a PEM X.509 certificate" : "a DER X.509 certificate",
      actual: "unparseable input",
      cause,
    });
  }
}

/**
 * Loads a CA certificate and key from PEM and checks that they belong together and can act as a CA now:
 * basicConstraints CA:TRUE, keyUsage (if present) includes keyCertSign, validity covers `now`, and the private
 * key's public half equals the certificate's SubjectPublicKeyInfo.
 */
export async function loadCa(
  certPem: string,
  keyPem: string,
  deps: Partial<PkiDeps> = {},
  what = "CA",
): Promise<CertificateAuthority> {
  const d = resolvePkiDeps(deps);
  const {
    cert,
    basicConstraints: bc,
    keyUsage: ku,
    spki: certSpki,
  } = parseCertificate(certPem, `${what} certificate`);
  if (!bc?.ca) {
    throw new PkiError("CA_INVALID", `Cannot use ${what} certificate`, {
      expected: "basicConstraints CA:TRUE",
      actual: bc ? "CA:FALSE" : "no basicConstraints",
    });
  }
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new PkiError("CA_INVALID", `Cannot use ${what} certificate`, {
      expected: "keyUsage keyCertSign",
      actual: `keyUsage 0x${ku.usages.toString(16)}`,
    });
  }
  const now = d.now();
  if (now < cert.notBefore || now > cert.notAfter) {
    throw new PkiError("CA_EXPIRED", `Cannot use ${what} certificate`, {
      expected: `valid at ${now.toISOString()}`,
      actual: `valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}`,
    });
  }
  const loaded = await importPrivateKeyPem(keyPem, d.crypto, `${what} key`);
  if (toHex(certSpki) !== toHex(loaded.spki)) {
    throw new PkiError("KEY_MISMATCH", `Cannot use ${what}`, {
      expected: "a private key matching the certificate's public key",
      actual: "a different key",
    });
  }
  return { cert, key: loaded.key, certPem: cert.toString("pem"), keyPem };
}

/**
 * The CA pin kubeadm's `--discovery-token-ca-cert-hash` / `caCertHashes` expects:
 * `sha256:<lower-case hex of SHA-256 over the DER SubjectPublicKeyInfo>` (RFC 7469 §2.4 style SPKI pin;
 * kubeadm `pubkeypin.Hash`). Accepts a parsed certificate or its PEM/DER.
 */
export async function caCertHash(
  cert: x509.X509Certificate | string | Uint8Array,
  crypto: Crypto = globalThis.crypto,
): Promise<string> {
  const spki =
    cert instanceof x509.X509Certificate
      ? new Uint8Array(cert.publicKey.rawData)
      : parseCertificate(cert, "certificate").spki;
  const digest = await crypto.subtle.digest("SHA-256", spki);
  return `sha256:${toHex(new Uint8Array(digest))}`;
}

/** The service-account token signing key pair (`sa.key` / `sa.pub`). */
export interface ServiceAccountKey {
  /** PKCS#8 PEM; secret. */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM. */
  readonly publicKeyPem: string;
}

/** Everything shared by all control-plane nodes of a kubeadm cluster (the files `kubeadm join --control-plane` needs). */
export interface ClusterPki {
  readonly ca: CertificateAuthority;
  readonly frontProxyCa: CertificateAuthority;
  readonly etcdCa: CertificateAuthority;
  readonly serviceAccount: ServiceAccountKey;
}

/** Options of {@link generateClusterPki}. */
export interface GenerateClusterPkiOptions {
  /** Algorithm of the three CAs; default `ECDSA-P256`. */
  readonly caAlgorithm?: KeyAlgorithm;
  /** Algorithm of the service-account signing key; default `RSA-2048` (RS256 tokens, see module docs). */
  readonly serviceAccountAlgorithm?: KeyAlgorithm;
  readonly caValidityMs?: number;
}

/**
 * Generates the cluster CA, front-proxy CA, etcd CA and service-account key for `kubeadm init` (kubeadm then
 * finds them in its certificatesDir and derives every leaf certificate from them).
 */
export async function generateClusterPki(
  options: GenerateClusterPkiOptions = {},
  deps: Partial<PkiDeps> = {},
): Promise<ClusterPki> {
  const d = resolvePkiDeps(deps);
  const common = {
    ...(options.caAlgorithm ? { algorithm: options.caAlgorithm } : {}),
    ...(options.caValidityMs ? { validityMs: options.caValidityMs } : {}),
  };
  const [ca, frontProxyCa, etcdCa, sa] = await Promise.all([
    generateCa({ commonName: CA_COMMON_NAMES.ca, ...common }, d),
    generateCa({ commonName: CA_COMMON_NAMES.frontProxyCa, ...common }, d),
    generateCa({ commonName: CA_COMMON_NAMES.etcdCa, ...common }, d),
    generateKeyPair(options.serviceAccountAlgorithm ?? "RSA-2048", d.crypto),
  ]);
  return {
    ca,
    frontProxyCa,
    etcdCa,
    serviceAccount: {
      privateKeyPem: await privateKeyToPem(sa.privateKey, d.crypto),
      publicKeyPem: await publicKeyToPem(sa.publicKey, d.crypto),
    },
  };
}
