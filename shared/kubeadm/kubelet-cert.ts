import type { CertificateAuthority } from "./ca.ts";
import { CERT_BACKDATE_MS } from "./ca.ts";
import { OID_EXTENSION_REQUEST, OID_SUBJECT_ALT_NAME, parseCsr, type VerifiedCsr, verifyCsr } from "./csr.ts";
import { type PkiDeps, resolvePkiDeps } from "./deps.ts";
import { CsrPolicyError, JoinPolicyError } from "./errors.ts";
import {
  type AttestedNodeIdentity,
  type CheckedIdentity,
  canonicalIp,
  checkAttestedIdentity,
} from "./identity.ts";
import { signingAlgorithmFor } from "./keys.ts";
import { randomSerial } from "./serial.ts";
import { x509 } from "./x509.ts";

/** Organization of every node credential (Kubernetes Node authorizer, `system:nodes` group). */
export const NODES_GROUP = "system:nodes";
/** Common-name prefix of node credentials; the rest is the node name. */
export const NODE_USER_PREFIX = "system:node:";
/** Longest lifetime we sign: kubelet rotates well before; Kubernetes' own signer defaults to the same. */
export const MAX_KUBELET_CERT_VALIDITY_MS = 365 * 24 * 3_600_000;
/** Shortest accepted lifetime, so a clock or config slip cannot produce an already-useless certificate. */
export const MIN_KUBELET_CERT_VALIDITY_MS = 3_600_000;

/** What the certificate is for: kubelet→API-server client auth, kubelet's own HTTPS server, or both. */
export type KubeletCertUsage = "client" | "serving";

/**
 * Checks a verified CSR against the node's ATTESTED identity (never against anything else in the request):
 * - subject is exactly `CN=system:node:<nodeName>` and `O=system:nodes`, nothing more;
 * - every DNS SAN equals the node name, every IP SAN is one of the attested IPs;
 * - no e-mail, URI or other SANs; no requested extension but subjectAltName; no attribute but
 *   extensionRequest.
 * The issued certificate is built from the identity, not copied from the CSR; these checks make a node
 * that asks for more fail loudly instead of silently getting less.
 */
export function validateKubeletCsr(csr: VerifiedCsr, identity: CheckedIdentity): void {
  const cns = csr.subject.filter((a) => a.type === "CN");
  const os = csr.subject.filter((a) => a.type === "O");
  if (cns.length !== 1 || os.length !== 1 || csr.subject.length !== 2 || os[0]?.value !== NODES_GROUP) {
    throw new CsrPolicyError("CSR_SUBJECT_INVALID", "Refusing kubelet certificate request", {
      expected: `subject exactly CN=${NODE_USER_PREFIX}<name>, O=${NODES_GROUP}`,
      actual: describeSubject(csr),
    });
  }
  const cn = cns[0]?.value ?? "";
  if (!cn.startsWith(NODE_USER_PREFIX)) {
    throw new CsrPolicyError("CSR_SUBJECT_INVALID", "Refusing kubelet certificate request", {
      expected: `CN starting with ${NODE_USER_PREFIX}`,
      actual: describeSubject(csr),
    });
  }
  if (cn !== `${NODE_USER_PREFIX}${identity.nodeName}`) {
    throw new CsrPolicyError("CSR_NAME_MISMATCH", "Refusing kubelet certificate request", {
      expected: `CN=${NODE_USER_PREFIX}${identity.nodeName} (attested node name)`,
      actual: `CN=${JSON.stringify(cn.slice(0, 300))}`,
    });
  }
  for (const oid of csr.attributeOids) {
    if (oid !== OID_EXTENSION_REQUEST) {
      throw new CsrPolicyError("CSR_EXTENSION_FORBIDDEN", "Refusing kubelet certificate request", {
        expected: "no CSR attribute but extensionRequest",
        actual: `attribute ${oid}`,
      });
    }
  }
  for (const oid of csr.extensionOids) {
    if (oid !== OID_SUBJECT_ALT_NAME) {
      throw new CsrPolicyError("CSR_EXTENSION_FORBIDDEN", "Refusing kubelet certificate request", {
        expected: "no requested extension but subjectAltName",
        actual: `extension ${oid}`,
      });
    }
  }
  for (const san of csr.sans) {
    switch (san.type) {
      case "dns":
        if (san.value !== identity.nodeName) {
          throw new CsrPolicyError("CSR_NAME_MISMATCH", "Refusing kubelet certificate request", {
            expected: `DNS SAN ${identity.nodeName} (attested node name)`,
            actual: `DNS SAN ${JSON.stringify(san.value.slice(0, 300))}`,
          });
        }
        break;
      case "ip": {
        const c = canonicalIp(san.value);
        if (c === undefined || !identity.canonicalIps.has(c)) {
          throw new CsrPolicyError("CSR_IP_MISMATCH", "Refusing kubelet certificate request", {
            expected: `IP SANs among the attested ${[...identity.canonicalIps].join(", ") || "(none)"}`,
            actual: `IP SAN ${san.value.slice(0, 64)}`,
          });
        }
        break;
      }
      default:
        throw new CsrPolicyError("CSR_SAN_FORBIDDEN", "Refusing kubelet certificate request", {
          expected: "only DNS and IP subjectAltNames",
          actual: `${san.type} SAN`,
        });
    }
  }
}

function describeSubject(csr: VerifiedCsr): string {
  return csr.subject.map((a) => `${a.type}=${JSON.stringify(a.value.slice(0, 100))}`).join(", ") || "(empty)";
}

/** Input of {@link issueKubeletCertificate}. */
export interface IssueKubeletCertificateInput {
  /** DER PKCS#10 request from the node (untrusted). */
  readonly csr: Uint8Array;
  /** The node's identity FROM ATTESTATION (see {@link AttestedNodeIdentity}). */
  readonly identity: AttestedNodeIdentity;
  /** Non-empty; `["client", "serving"]` gives one certificate good for both (Constellation's shape). */
  readonly usages: readonly KubeletCertUsage[];
  /** The cluster CA (`/etc/kubernetes/pki/ca.{crt,key}`). */
  readonly ca: CertificateAuthority;
  /** Lifetime; default and maximum {@link MAX_KUBELET_CERT_VALIDITY_MS}, never beyond the CA's own expiry. */
  readonly validityMs?: number;
}

/** A signed kubelet certificate. */
export interface KubeletCertificate {
  readonly cert: x509.X509Certificate;
  readonly certPem: string;
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * Parses, verifies and validates a kubelet CSR, then signs a certificate with the cluster CA:
 * subject `CN=system:node:<attested nodeName>, O=system:nodes`; random 126-bit serial; NotBefore now − 5 min;
 * bounded NotAfter; critical basicConstraints CA:FALSE; critical keyUsage digitalSignature (+keyEncipherment
 * for RSA keys); extKeyUsage clientAuth and/or serverAuth; for serving, SANs = DNS:<nodeName> plus every
 * attested IP; subject and authority key identifiers.
 *
 * Throws {@link CsrError} (malformed / not self-signed / weak key), {@link CsrPolicyError} (asks for a name,
 * IP or extension outside the attested identity) or {@link JoinPolicyError} (bad identity or validity).
 *
 * @example
 * const { certPem } = await issueKubeletCertificate(
 *   { csr, identity: { nodeName: "worker-1", ips: ["10.0.0.5"], role: "worker" }, usages: ["client"], ca },
 *   deps,
 * );
 */
export async function issueKubeletCertificate(
  input: IssueKubeletCertificateInput,
  deps: Partial<PkiDeps> = {},
): Promise<KubeletCertificate> {
  const d = resolvePkiDeps(deps);
  const identity = checkAttestedIdentity(input.identity);
  const usages = new Set(input.usages);
  if (usages.size === 0 || [...usages].some((u) => u !== "client" && u !== "serving")) {
    throw new JoinPolicyError("USAGES_INVALID", "Cannot issue kubelet certificate", {
      expected: 'usages among "client", "serving" (at least one)',
      actual: JSON.stringify([...usages]).slice(0, 64),
    });
  }
  const validity = input.validityMs ?? MAX_KUBELET_CERT_VALIDITY_MS;
  if (
    !Number.isFinite(validity) ||
    validity < MIN_KUBELET_CERT_VALIDITY_MS ||
    validity > MAX_KUBELET_CERT_VALIDITY_MS
  ) {
    throw new JoinPolicyError("VALIDITY_INVALID", "Cannot issue kubelet certificate", {
      expected: `validity in [${MIN_KUBELET_CERT_VALIDITY_MS}, ${MAX_KUBELET_CERT_VALIDITY_MS}] ms`,
      actual: `${validity}`,
    });
  }
  const csr = await verifyCsr(parseCsr(input.csr), d.crypto);
  validateKubeletCsr(csr, identity);

  const now = d.now().getTime();
  const notBefore = new Date(Math.max(now - CERT_BACKDATE_MS, input.ca.cert.notBefore.getTime()));
  const notAfter = new Date(Math.min(now + validity, input.ca.cert.notAfter.getTime()));
  if (notAfter.getTime() - now < MIN_KUBELET_CERT_VALIDITY_MS) {
    throw new JoinPolicyError("VALIDITY_INVALID", "Cannot issue kubelet certificate", {
      expected: "a cluster CA valid for at least another hour",
      actual: `CA expires ${input.ca.cert.notAfter.toISOString()}`,
    });
  }
  const eku: string[] = [];
  if (usages.has("client")) eku.push(x509.ExtendedKeyUsage.clientAuth);
  if (usages.has("serving")) eku.push(x509.ExtendedKeyUsage.serverAuth);
  const keyUsage =
    csr.keyType === "RSA"
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const caSki = input.ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(keyUsage, true),
    new x509.ExtendedKeyUsageExtension(eku, false),
    await x509.SubjectKeyIdentifierExtension.create(csr.csr.publicKey, false, d.crypto),
    caSki
      ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId, false)
      : await x509.AuthorityKeyIdentifierExtension.create(input.ca.cert.publicKey, false, d.crypto),
  ];
  if (usages.has("serving")) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        [
          { type: "dns", value: identity.nodeName },
          ...identity.ips.map((value) => ({ type: "ip" as const, value })),
        ],
        false,
      ),
    );
  }
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(d.randomBytes),
      subject: [{ CN: [`${NODE_USER_PREFIX}${identity.nodeName}`] }, { O: [NODES_GROUP] }],
      issuer: input.ca.cert.subjectName,
      notBefore,
      notAfter,
      publicKey: csr.csr.publicKey,
      signingKey: input.ca.key,
      signingAlgorithm: signingAlgorithmFor(input.ca.key),
      extensions,
    },
    d.crypto,
  );
  return { cert, certPem: cert.toString("pem"), serialNumber: cert.serialNumber, notBefore, notAfter };
}
