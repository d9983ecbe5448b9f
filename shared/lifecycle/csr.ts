import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** A kubelet key pair and its CSR. The private key never leaves the node. */
export interface KubeletCsr {
  /** DER PKCS#10. */
  readonly csr: Uint8Array;
  /** PKCS#8 PEM of the private key (written 0600 next to the certificate). */
  readonly keyPem: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

/**
 * A fresh ECDSA P-256 kubelet key and CSR: subject `CN=system:node:<name>, O=system:nodes`, SANs = the
 * node name (DNS) and its IPs. The JoinService signs it only if all of this matches the node's ATTESTED
 * identity.
 */
export async function createKubeletCsr(
  identity: { readonly name: string; readonly ips: readonly string[] },
  crypto: Crypto = globalThis.crypto,
): Promise<KubeletCsr> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const req = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [{ CN: [`system:node:${identity.name}`] }, { O: ["system:nodes"] }],
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: "dns", value: identity.name },
          ...identity.ips.map((ip) => ({ type: "ip" as const, value: ip })),
        ]),
      ],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { csr: new Uint8Array(req.rawData), keyPem: pem("PRIVATE KEY", pkcs8) };
}
