import "reflect-metadata";
import type { CertificateAuthority } from "@asterism/kubeadm";
import * as x509 from "@peculiar/x509";
import { stringify } from "yaml";

/** Validity of the admin client certificate (kubeadm's default for admin.conf). */
const ADMIN_CERT_VALIDITY_MS = 365 * 24 * 3_600_000;
/** kubeadm backdates certificates by 5 minutes against clock skew. */
const BACKDATE_MS = 5 * 60_000;

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

function signingAlgorithm(key: CryptoKey): Algorithm | EcdsaParams {
  if (key.algorithm.name === "ECDSA") {
    const curve = (key.algorithm as EcKeyAlgorithm).namedCurve;
    return { name: "ECDSA", hash: curve === "P-384" ? "SHA-384" : "SHA-256" } as EcdsaParams;
  }
  return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm;
}

/**
 * The admin kubeconfig `kubeadm kubeconfig user --client-name <cluster>-admin --org system:masters` would
 * write (reference §2.2 step 9): a fresh P-256 client key, a certificate from the cluster CA, and the CA
 * as trust anchor. Built here rather than by kubeadm so the local cluster (which runs no kubeadm) returns
 * the same artefact. It holds a private key: 0600 on disk.
 */
export async function createAdminKubeconfig(opts: {
  readonly ca: CertificateAuthority;
  readonly clusterName: string;
  /** `https://host:port` of the API server. */
  readonly server: string;
  readonly now?: Date;
  readonly crypto?: Crypto;
}): Promise<string> {
  const c = opts.crypto ?? globalThis.crypto;
  const now = opts.now ?? new Date();
  const alg = { name: "ECDSA", namedCurve: "P-256" } as const;
  const keys = (await c.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const serial = c.getRandomValues(new Uint8Array(16));
  serial[0] = ((serial[0] as number) & 0x7f) | 0x01;
  const notAfter = new Date(
    Math.min(now.getTime() + ADMIN_CERT_VALIDITY_MS, opts.ca.cert.notAfter.getTime()),
  );
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: Buffer.from(serial).toString("hex"),
      subject: `CN=${opts.clusterName}-admin, O=system:masters`,
      issuer: opts.ca.cert.subject,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: opts.ca.key,
      signingAlgorithm: signingAlgorithm(opts.ca.key),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(opts.ca.cert, false, c),
      ],
    },
    c,
  );
  const keyPem = pem("PRIVATE KEY", await c.subtle.exportKey("pkcs8", keys.privateKey));
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const user = `${opts.clusterName}-admin`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: opts.clusterName,
        cluster: { server: opts.server, "certificate-authority-data": b64(opts.ca.certPem) },
      },
    ],
    users: [
      {
        name: user,
        user: { "client-certificate-data": b64(cert.toString("pem")), "client-key-data": b64(keyPem) },
      },
    ],
    contexts: [{ name: `${user}@${opts.clusterName}`, context: { cluster: opts.clusterName, user } }],
    "current-context": `${user}@${opts.clusterName}`,
    preferences: {},
  });
}
