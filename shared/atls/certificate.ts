import "reflect-metadata";
import { toHex } from "@asterism/bytes";
import * as x509 from "@peculiar/x509";
import { AtlsError } from "./errors.ts";

/**
 * Short-lived, self-signed ECDSA P-256 certificates: the only certificates aTLS mints or accepts. Their
 * trust comes from the attestation extension, never from a CA, so everything else is fixed and checked
 * strictly (key type, signature algorithm, validity length).
 */

/** Subject and issuer of every minted certificate. Informational only: nothing trusts a name. */
export const CERT_SUBJECT = "CN=asterism-atls";
/** Backdating of notBefore, so a peer whose clock runs slightly behind still accepts the certificate. */
export const DEFAULT_NOT_BEFORE_SKEW_MS = 60_000;
/** Lifetime after `now`. A certificate serves one handshake; ten minutes covers slow validators. */
export const DEFAULT_LIFETIME_MS = 10 * 60_000;
/** Longest notAfter − notBefore a peer certificate may have (skew + lifetime + slack). */
export const DEFAULT_MAX_VALIDITY_MS = 15 * 60_000;
/**
 * Largest peer certificate parsed at all. BoringSSL already refuses Certificate messages above 100 KiB
 * (`max_cert_list`); this bound keeps the parser's work fixed even if that default changes.
 */
export const MAX_CERTIFICATE_BYTES = 100 * 1024;

/** RFC 5280 extensions aTLS tolerates when marked critical (it mints none, but they are harmless). */
const KNOWN_CRITICAL = new Set(["2.5.29.19" /* basicConstraints */, "2.5.29.15" /* keyUsage */]);

const EC_P256: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };

/** A fresh key pair and the digest evidence must vouch for. */
export interface CertificateKey {
  readonly keys: CryptoKeyPair;
  /** DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
  readonly spki: Uint8Array;
  /** SHA-256(spki): the `userData` of evidence bound to this key. */
  readonly spkiDigest: Uint8Array;
}

/** A minted certificate in the forms `tls.createSecureContext` and tests need. */
export interface MintedCertificate {
  readonly der: Uint8Array;
  readonly certPem: string;
  /** PKCS#8 PEM of the private key, for `tls.createSecureContext` only. Never logged. */
  readonly keyPem: string;
  readonly spkiDigest: Uint8Array;
}

/** An X.509 extension as it should appear in a minted certificate. */
export interface CertificateExtension {
  readonly oid: string;
  readonly value: Uint8Array;
  readonly critical?: boolean;
}

/** Options of {@link mintCertificate}. */
export interface MintOptions {
  readonly now: Date;
  readonly notBeforeSkewMs?: number;
  readonly lifetimeMs?: number;
  readonly extensions?: readonly CertificateExtension[];
}

/** SHA-256 of bytes. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

/** Generate a fresh P-256 key (extractable: OpenSSL needs the PKCS#8 bytes). */
export async function generateCertificateKey(): Promise<CertificateKey> {
  const keys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  return { keys, spki, spkiDigest: await sha256(spki) };
}

/**
 * Mint a self-signed certificate for `key`: random positive 128-bit serial (RFC 5280 §4.1.2.2), validity
 * `now − skew … now + lifetime`, ECDSA with SHA-256, and the given extensions (the attestation document
 * goes in as the raw bytes of extnValue, as Constellation does).
 */
export async function mintCertificate(key: CertificateKey, opts: MintOptions): Promise<MintedCertificate> {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  // Positive and minimal in DER: top bit clear, first byte non-zero.
  serial[0] = ((serial[0] as number) & 0x7f) | 0x40;
  const now = opts.now.getTime();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: toHex(serial),
      name: CERT_SUBJECT,
      notBefore: new Date(now - (opts.notBeforeSkewMs ?? DEFAULT_NOT_BEFORE_SKEW_MS)),
      notAfter: new Date(now + (opts.lifetimeMs ?? DEFAULT_LIFETIME_MS)),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      keys: key.keys,
      extensions: (opts.extensions ?? []).map(
        (e) => new x509.Extension(e.oid, e.critical ?? false, e.value as Uint8Array<ArrayBuffer>),
      ),
    },
    crypto,
  );
  const der = new Uint8Array(cert.rawData);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", key.keys.privateKey));
  const keyPem = toPem("PRIVATE KEY", pkcs8);
  pkcs8.fill(0);
  return { der, certPem: toPem("CERTIFICATE", der), keyPem, spkiDigest: key.spkiDigest };
}

/** An extension of a checked peer certificate. */
export interface PeerExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** A peer certificate that passed {@link checkPeerCertificate}. */
export interface CheckedCertificate {
  readonly der: Uint8Array;
  readonly spkiDigest: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly PeerExtension[];
}

/** Options of {@link checkPeerCertificate}. */
export interface CheckCertificateOptions {
  readonly now: Date;
  readonly maxValidityMs?: number;
  /** OIDs whose critical flag is acceptable because the caller interprets them (the attestation OIDs). */
  readonly understoodOids: ReadonlySet<string>;
}

/**
 * Check the structure and self-signature of a peer certificate, in this order: size, DER, ECDSA P-256 key,
 * ecdsa-with-SHA256 signature, issuer = subject and signature valid under its own key, validity window and
 * length, no unknown critical extension. Trust is NOT decided here: that is the attestation extension's job.
 */
export async function checkPeerCertificate(
  der: Uint8Array,
  opts: CheckCertificateOptions,
): Promise<CheckedCertificate> {
  if (der.length > MAX_CERTIFICATE_BYTES)
    throw new AtlsError("CERT_MALFORMED", "Cannot accept the peer certificate", {
      expected: `at most ${MAX_CERTIFICATE_BYTES} bytes`,
      actual: `${der.length} bytes`,
    });
  // @peculiar/x509 parses lazily (getters decode on access), so every field is read inside this try:
  // anything malformed surfaces here as CERT_MALFORMED, never as a library exception later.
  let cert: x509.X509Certificate;
  let fields: {
    spki: Uint8Array<ArrayBuffer>;
    sigAlg: string;
    issuer: string;
    subject: string;
    notBefore: Date;
    notAfter: Date;
    extensions: PeerExtension[];
  };
  try {
    cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>);
    const alg = cert.signatureAlgorithm;
    fields = {
      spki: new Uint8Array(cert.publicKey.rawData),
      sigAlg: `${alg.name}/${alg.hash?.name}`,
      issuer: cert.issuer,
      subject: cert.subject,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      extensions: cert.extensions.map((e) => ({
        oid: e.type,
        critical: e.critical,
        value: new Uint8Array(e.value),
      })),
    };
  } catch (cause) {
    throw new AtlsError("CERT_MALFORMED", "Cannot parse the peer certificate", {
      expected: "a DER X.509 certificate",
      actual: `${der.length} bytes that do not parse`,
      cause,
    });
  }
  const { spki, extensions, notBefore, notAfter } = fields;
  let publicKey: CryptoKey;
  try {
    publicKey = await crypto.subtle.importKey("spki", spki, EC_P256, false, ["verify"]);
  } catch (cause) {
    throw new AtlsError("CERT_MALFORMED", "Cannot use the peer certificate's key", {
      expected: "an ECDSA P-256 public key",
      actual: "another key type",
      cause,
    });
  }
  if (fields.sigAlg !== "ECDSA/SHA-256")
    throw new AtlsError("CERT_MALFORMED", "Cannot accept the peer certificate's signature algorithm", {
      expected: "ecdsa-with-SHA256",
      actual: fields.sigAlg,
    });
  if (fields.issuer !== fields.subject)
    throw new AtlsError("CERT_NOT_SELF_SIGNED", "Cannot accept the peer certificate", {
      expected: `issuer = subject (${JSON.stringify(fields.subject.slice(0, 100))})`,
      actual: `issuer ${JSON.stringify(fields.issuer.slice(0, 100))}`,
    });
  let signed = false;
  try {
    signed = await cert.verify({ publicKey, signatureOnly: true }, crypto);
  } catch (cause) {
    throw new AtlsError("CERT_NOT_SELF_SIGNED", "Cannot verify the peer certificate's self-signature", {
      cause,
    });
  }
  if (!signed)
    throw new AtlsError("CERT_NOT_SELF_SIGNED", "Cannot verify the peer certificate's self-signature", {
      expected: "a signature valid under the certificate's own key",
      actual: "an invalid signature",
    });
  const now = opts.now.getTime();
  if (now < notBefore.getTime())
    throw new AtlsError("CERT_NOT_YET_VALID", "Cannot accept the peer certificate", {
      expected: `now (${opts.now.toISOString()}) ≥ notBefore`,
      actual: `notBefore ${notBefore.toISOString()}`,
    });
  if (now > notAfter.getTime())
    throw new AtlsError("CERT_EXPIRED", "Cannot accept the peer certificate", {
      expected: `now (${opts.now.toISOString()}) ≤ notAfter`,
      actual: `notAfter ${notAfter.toISOString()}`,
    });
  const maxValidity = opts.maxValidityMs ?? DEFAULT_MAX_VALIDITY_MS;
  if (notAfter.getTime() - notBefore.getTime() > maxValidity)
    throw new AtlsError("CERT_VALIDITY_TOO_LONG", "Cannot accept the peer certificate", {
      expected: `validity of at most ${maxValidity / 1000} s`,
      actual: `${(notAfter.getTime() - notBefore.getTime()) / 1000} s`,
    });
  for (const e of extensions)
    if (e.critical && !KNOWN_CRITICAL.has(e.oid) && !opts.understoodOids.has(e.oid))
      throw new AtlsError("CERT_UNKNOWN_CRITICAL_EXTENSION", "Cannot accept the peer certificate", {
        expected: "no critical extension aTLS does not understand",
        actual: `critical extension ${e.oid}`,
      });
  return { der, spkiDigest: await sha256(spki), notBefore, notAfter, extensions };
}

function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
