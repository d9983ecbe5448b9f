import { MtlsError } from "./errors.ts";
import { identityUri } from "./identity.ts";
import * as x509 from "./x509.ts";

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;
/** Longest validity we issue; a service cert is renewed long before this. */
export const MAX_VALIDITY_DAYS = 3650;
/** Certificates start a little in the past so that small clock skew between nodes does not reject them. */
const BACKDATE_MS = 5 * 60_000;

/** A cluster CA: its certificate and (extractable, for persistence) key pair. */
export interface ClusterCa {
  readonly certificate: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
  /** The CA certificate as PEM (the trust anchor every service gets). */
  readonly certPem: string;
}

/** A service's certificate and private key as PEM, ready for `node:tls` or Bun `fetch({ tls })`. */
export interface ServiceCredentials {
  readonly certPem: string;
  readonly keyPem: string;
  /** The identity URI in the SAN, e.g. `asterism://join-service`. */
  readonly identity: string;
}

/** Options of {@link createClusterCa}. */
export interface CreateCaOptions {
  readonly now: Date;
  readonly validityDays?: number;
  readonly commonName?: string;
}

function validity(now: Date, days: number): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(days) || days <= 0 || days > MAX_VALIDITY_DAYS) {
    throw new MtlsError("INVALID_VALIDITY", "Cannot issue certificate", {
      expected: `1–${MAX_VALIDITY_DAYS} days`,
      actual: String(days),
    });
  }
  return {
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
  };
}

function serial(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, non-zero, 16 bytes (RFC 5280 §4.1.2.2)
  return Buffer.from(b).toString("hex");
}

/**
 * Create the cluster CA at init: ECDSA P-256, self-signed, CA:TRUE pathLen 0 (it signs service certs only),
 * keyCertSign + cRLSign.
 */
export async function createClusterCa(options: CreateCaOptions): Promise<ClusterCa> {
  const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const { notBefore, notAfter } = validity(options.now, options.validityDays ?? MAX_VALIDITY_DAYS);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${options.commonName ?? "Asterism cluster CA"}`,
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certificate, keys, certPem: certificate.toString("pem") };
}

/** Persist a CA: certificate PEM and PKCS#8 private key PEM. */
export async function exportClusterCa(ca: ClusterCa): Promise<{ certPem: string; keyPem: string }> {
  return { certPem: ca.certPem, keyPem: await privateKeyPem(ca.keys.privateKey) };
}

/** Load a CA saved by {@link exportClusterCa}. */
export async function loadClusterCa(certPem: string, keyPem: string): Promise<ClusterCa> {
  try {
    const certificate = new x509.X509Certificate(certPem);
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      x509.PemConverter.decodeFirst(keyPem),
      EC,
      true,
      ["sign"],
    );
    const publicKey = await certificate.publicKey.export(EC, ["verify"], crypto);
    return { certificate, keys: { privateKey, publicKey }, certPem: certificate.toString("pem") };
  } catch (cause) {
    throw new MtlsError("INVALID_CERTIFICATE", "Cannot load cluster CA", {
      expected: "a P-256 CA certificate and PKCS#8 key in PEM",
      cause,
    });
  }
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** Options of {@link issueServiceCertificate}. */
export interface IssueOptions {
  /** Service name; the SAN carries `asterism://<service>`. */
  readonly service: string;
  readonly now: Date;
  readonly validityDays?: number;
  /** `client` (calls others), `server` (serves TLS) or both. */
  readonly usage: "client" | "server" | "both";
  /** DNS names for a server certificate. */
  readonly dnsNames?: readonly string[];
  /** IP addresses for a server certificate (e.g. 127.0.0.1). */
  readonly ipAddresses?: readonly string[];
  /** Explicit validity window (tests: an already expired certificate). Overrides now/validityDays. */
  readonly window?: { readonly notBefore: Date; readonly notAfter: Date };
}

/**
 * Issue a service identity certificate from the cluster CA: fresh P-256 key, SAN URI
 * `asterism://<service>` (plus DNS/IP names for servers), EKU clientAuth/serverAuth as asked,
 * digitalSignature only, CA:FALSE.
 */
export async function issueServiceCertificate(
  ca: ClusterCa,
  options: IssueOptions,
): Promise<ServiceCredentials> {
  const identity = identityUri(options.service);
  const keys = (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
  const { notBefore, notAfter } = options.window ?? validity(options.now, options.validityDays ?? 365);
  const eku: string[] = [];
  if (options.usage !== "server") eku.push(x509.ExtendedKeyUsage.clientAuth);
  if (options.usage !== "client") eku.push(x509.ExtendedKeyUsage.serverAuth);
  const names: x509.JsonGeneralName[] = [{ type: "url", value: identity }];
  for (const d of options.dnsNames ?? []) names.push({ type: "dns", value: d });
  for (const ip of options.ipAddresses ?? []) names.push({ type: "ip", value: ip });
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial(),
      subject: `CN=${options.service}`,
      issuer: ca.certificate.subject,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(eku, false),
        new x509.SubjectAlternativeNameExtension(names, false),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey), identity };
}
