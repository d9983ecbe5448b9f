import { bytesEqual, toHex } from "@asterism/bytes";
import { decodePemBlocks, encodePem } from "./_pem.ts";
import { type PkiDeps, resolvePkiDeps } from "./deps.ts";
import { KubeletCredentialError, KubeletCredentialPolicyError, PkiError } from "./errors.ts";
import { canonicalIp } from "./identity.ts";
import { importPrivateKeyPem } from "./keys.ts";
import { NODE_USER_PREFIX, NODES_GROUP } from "./kubelet-cert.ts";
import { x509 } from "./x509.ts";

/** Largest PEM accepted for a kubelet certificate, its key or the CA (an RSA-4096 certificate is ~2 KiB). */
export const MAX_KUBELET_PEM_BYTES = 16 * 1024;

/** Input of {@link checkKubeletCredential}: what a join ticket carries plus the node's own key. */
export interface KubeletCredentialInput {
  /** The kubelet certificate (PEM), from the join ticket: untrusted until checked. */
  readonly certPem: string;
  /** The private key the node generated for its CSR (PKCS#8 PEM); never left the node. */
  readonly keyPem: string;
  /** The cluster CA certificate (PEM), from the join ticket. */
  readonly caCertPem: string;
  /** The ticket's CA pins (`sha256:<hex>` over the CA's SPKI, kubeadm's `caCertHashes`); the CA must match one. */
  readonly caCertHashes: readonly string[];
  /** The node's identity as it ATTESTED it (PCR 16): the certificate must name exactly this node. */
  readonly identity: { readonly nodeName: string; readonly ips: readonly string[] };
}

/** A kubelet credential that passed {@link checkKubeletCredential}, re-encoded canonically. */
export interface KubeletCredential {
  readonly nodeName: string;
  readonly cert: x509.X509Certificate;
  /** The certificate as PEM in Go's `encoding/pem` shape. */
  readonly certPem: string;
  /** The private key as PKCS#8 PEM. Secret. */
  readonly keyPem: string;
  /** The cluster CA certificate as PEM in Go's `encoding/pem` shape (what kubeadm compares kubeconfigs with). */
  readonly caCertPem: string;
  readonly notAfter: Date;
}

/** What the checks need from one certificate, read out once while parsing (the library parses lazily). */
interface InspectedCert {
  readonly cert: x509.X509Certificate;
  readonly der: Uint8Array;
  readonly spki: Uint8Array;
  readonly subject: string;
  readonly issuer: string;
  /** Every subject attribute as `[type, value]`, in order (multi-valued RDNs flattened). */
  readonly subjectAttributes: readonly (readonly [string, string])[];
  readonly isCa: boolean;
  readonly extendedKeyUsages: ReadonlySet<string>;
  /** Key usage flags, or undefined when the extension is absent. */
  readonly keyUsage: number | undefined;
  readonly sans: readonly { readonly type: string; readonly value: string }[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

interface ParsedCredential {
  readonly cert: InspectedCert;
  readonly ca: InspectedCert;
  readonly keyDer: Uint8Array;
  /** SubjectPublicKeyInfo of the node's private key. */
  readonly keySpki: Uint8Array;
}

function single(pem: string, label: string, what: string): Uint8Array {
  if (pem.length > MAX_KUBELET_PEM_BYTES)
    throw new PkiError("PEM_INVALID", `Cannot parse ${what}`, {
      expected: `at most ${MAX_KUBELET_PEM_BYTES} bytes`,
      actual: `${pem.length} bytes`,
    });
  const blocks = decodePemBlocks(pem);
  const only = blocks?.length === 1 ? blocks[0] : undefined;
  if (only === undefined || only.label !== label)
    throw new PkiError("PEM_INVALID", `Cannot parse ${what}`, {
      expected: `exactly one ${label} PEM block`,
      actual: blocks === undefined ? "malformed PEM" : blocks.map((b) => b.label).join(", ") || "no block",
    });
  return only.der;
}

function inspect(der: Uint8Array, what: string): InspectedCert {
  try {
    const cert = new x509.X509Certificate(new Uint8Array(der));
    const subjectAttributes: [string, string][] = [];
    for (const rdn of cert.subjectName.toJSON())
      for (const [type, values] of Object.entries(rdn))
        for (const value of values) subjectAttributes.push([type, value]);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    return {
      cert,
      der,
      spki: new Uint8Array(cert.publicKey.rawData),
      subject: cert.subject,
      issuer: cert.issuer,
      subjectAttributes,
      isCa: cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
      extendedKeyUsages: new Set((eku?.usages ?? []).map(String)),
      keyUsage: keyUsage?.usages,
      sans: (san?.names.items ?? []).map((n) => ({ type: n.type, value: n.value })),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
  } catch (cause) {
    throw new PkiError("PEM_INVALID", `Cannot parse ${what}`, {
      expected: "a DER X.509 certificate",
      actual: "unparseable certificate",
      cause,
    });
  }
}

/** Parse stage: PEM shapes, certificates and the key; passes no judgement. Throws {@link PkiError}. */
async function parseKubeletCredential(
  input: KubeletCredentialInput,
  crypto: Crypto,
): Promise<ParsedCredential> {
  const certDer = single(input.certPem, "CERTIFICATE", "kubelet certificate");
  const caDer = single(input.caCertPem, "CERTIFICATE", "cluster CA certificate");
  const keyDer = single(input.keyPem, "PRIVATE KEY", "kubelet private key");
  const { spki } = await importPrivateKeyPem(encodePem("PRIVATE KEY", keyDer), crypto, "kubelet private key");
  return {
    cert: inspect(certDer, "kubelet certificate"),
    ca: inspect(caDer, "cluster CA certificate"),
    keyDer,
    keySpki: spki,
  };
}

/**
 * Verify stage (is it authentic?): the CA is the pinned cluster CA, it issued and signed the certificate,
 * the certificate is for the node's own key, and it is valid now. Throws {@link KubeletCredentialError}.
 */
async function verifyKubeletCredential(
  p: ParsedCredential,
  pins: readonly string[],
  d: PkiDeps,
): Promise<void> {
  const digest = new Uint8Array(await d.crypto.subtle.digest("SHA-256", new Uint8Array(p.ca.spki)));
  // kubeadm's pin (pubkeypin.Hash): SHA-256 over the CA's DER SubjectPublicKeyInfo, as caCertHash computes.
  const pin = `sha256:${toHex(digest)}`;
  if (!pins.includes(pin))
    throw new KubeletCredentialError("CA_PIN_MISMATCH", "Refusing the kubelet credential", {
      expected: `a CA pinned by the ticket (${pins.slice(0, 8).join(", ") || "no pin"})`,
      actual: pin,
    });
  let signed = false;
  try {
    signed = await p.cert.cert.verify({ publicKey: p.ca.cert, signatureOnly: true }, d.crypto);
  } catch {
    signed = false;
  }
  if (!signed || p.cert.issuer !== p.ca.subject)
    throw new KubeletCredentialError("CERT_NOT_FROM_CA", "Refusing the kubelet credential", {
      expected: `a certificate issued and signed by ${p.ca.subject.slice(0, 200)}`,
      actual: `issuer ${p.cert.issuer.slice(0, 200)}${signed ? "" : ", signature does not verify"}`,
    });
  if (!bytesEqual(p.cert.spki, p.keySpki))
    throw new KubeletCredentialError("CERT_KEY_MISMATCH", "Refusing the kubelet credential", {
      expected: "a certificate for the key this node generated",
      actual: "a certificate for another public key",
    });
  const now = d.now().getTime();
  if (now < p.cert.notBefore.getTime() || now > p.cert.notAfter.getTime())
    throw new KubeletCredentialError("CERT_NOT_VALID_NOW", "Refusing the kubelet credential", {
      expected: `validity covering ${new Date(now).toISOString()}`,
      actual: `${p.cert.notBefore.toISOString()} to ${p.cert.notAfter.toISOString()}`,
    });
}

/**
 * Validate stage (does it name this node, and can it serve as its kubelet identity?): subject exactly
 * `CN=system:node:<attested name>, O=system:nodes` (what the Node authorizer and the kubelet's own
 * rotation template expect), a leaf (not a CA) whose extended key usage has clientAuth (the kubelet's
 * client identity) and serverAuth (its serving pair), and serving names that are only the attested name
 * and addresses. Throws {@link KubeletCredentialPolicyError}.
 */
function validateKubeletCredential(c: InspectedCert, identity: KubeletCredentialInput["identity"]): void {
  const attrs = c.subjectAttributes;
  const cn = `${NODE_USER_PREFIX}${identity.nodeName}`;
  const exact =
    attrs.length === 2 &&
    attrs.some(([t, v]) => t === "CN" && v === cn) &&
    attrs.some(([t, v]) => t === "O" && v === NODES_GROUP);
  if (!exact)
    throw new KubeletCredentialPolicyError("CERT_NAME_MISMATCH", "Refusing the kubelet credential", {
      expected: `subject exactly CN=${cn}, O=${NODES_GROUP} (the attested node name)`,
      actual: `subject ${c.subject.slice(0, 200)}`,
    });
  const usages = c.extendedKeyUsages;
  const problem = c.isCa
    ? "a CA certificate"
    : !usages.has(x509.ExtendedKeyUsage.clientAuth) || !usages.has(x509.ExtendedKeyUsage.serverAuth)
      ? `extended key usages ${[...usages].join(", ") || "(none)"}`
      : c.keyUsage !== undefined && (c.keyUsage & x509.KeyUsageFlags.digitalSignature) === 0
        ? "a key usage without digitalSignature"
        : undefined;
  if (problem !== undefined)
    throw new KubeletCredentialPolicyError("CERT_USAGE_INVALID", "Refusing the kubelet credential", {
      expected: "a leaf certificate with extended key usages clientAuth and serverAuth",
      actual: problem,
    });
  const attested = new Set(identity.ips.map((ip) => canonicalIp(ip) ?? ip));
  const stray = c.sans.find(
    (n) =>
      !(n.type === "dns" && n.value === identity.nodeName) &&
      !(n.type === "ip" && attested.has(canonicalIp(n.value) ?? "")),
  );
  if (stray !== undefined || !c.sans.some((n) => n.type === "dns"))
    throw new KubeletCredentialPolicyError("CERT_SAN_MISMATCH", "Refusing the kubelet credential", {
      expected: `serving names DNS:${identity.nodeName} and only attested addresses`,
      actual: stray === undefined ? "no DNS name" : `${stray.type}:${stray.value.slice(0, 100)}`,
    });
}

/**
 * Check a kubelet credential before anything of it is written: parse (PEM shapes, {@link PkiError}),
 * verify ({@link KubeletCredentialError}: the pinned cluster CA issued it, for the node's own key, valid
 * now) and validate ({@link KubeletCredentialPolicyError}: it names exactly the ATTESTED node, client and
 * serving usages, serving names within the attested identity). The JoinService already issues
 * certificates only for the attested identity; this is the node's own check that a ticket from a
 * compromised or confused JoinService cannot make it run as another node.
 *
 * @example
 * const credential = await checkKubeletCredential({
 *   certPem: ticket.kubeletCert, keyPem, caCertPem: ticket.caCert, caCertHashes: ticket.caCertHashes,
 *   identity: { nodeName: "worker-1", ips: ["10.0.0.5"] },
 * });
 */
export async function checkKubeletCredential(
  input: KubeletCredentialInput,
  deps: Partial<PkiDeps> = {},
): Promise<KubeletCredential> {
  const d = resolvePkiDeps(deps);
  const parsed = await parseKubeletCredential(input, d.crypto);
  await verifyKubeletCredential(parsed, input.caCertHashes, d);
  validateKubeletCredential(parsed.cert, input.identity);
  return {
    nodeName: input.identity.nodeName,
    cert: parsed.cert.cert,
    certPem: encodePem("CERTIFICATE", parsed.cert.der),
    keyPem: encodePem("PRIVATE KEY", parsed.keyDer),
    caCertPem: encodePem("CERTIFICATE", parsed.ca.der),
    notAfter: parsed.cert.notAfter,
  };
}
