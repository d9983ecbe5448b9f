/**
 * Minimal X.509 chain checks for Intel's PCK and collateral-signing chains, on @peculiar/x509 and
 * WebCrypto. NOTE: generic chain helpers belong in `shared/pki` (being written in parallel); this file is
 * kept deliberately small so it can move there without changing behaviour.
 */
import { ab } from "./_internal.ts";
import "reflect-metadata";
import { bytesEqual, toHex } from "@asterism/bytes";
import { BasicConstraintsExtension, X509Certificate, X509Crl } from "@peculiar/x509";
import { TdxParseError, type TdxVerifyCode, TdxVerifyError } from "./errors.ts";
import { parsePemCertificates } from "./pem.ts";

/**
 * The Intel SGX Root CA (self-signed, ECDSA P-256, valid 2018-05-21 → 2049-12-31), the trust anchor
 * of every PCK chain and of TCB info, QE identity and CRL signatures. Callers may override it (tests,
 * `--root`), never extend it.
 */
export const INTEL_SGX_ROOT_CA_PEM = `
-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----`.trim();

/**
 * Memo of work on identical certificate bytes, for verifiers that see the same PCK CA and root (and often
 * the same leaf) in every quote. It remembers parsed certificates by their exact DER, and signature
 * checks that succeeded by the exact (certificate DER, issuer key) pair — both pure functions of the bytes,
 * so a hit can never accept anything a miss would reject. Validity, names, CA flags and revocation are
 * re-checked on every use. Bounded: the oldest entries go first.
 */
export interface CertCache {
  readonly parsed: Map<string, X509Certificate>;
  readonly verifiedLinks: Set<string>;
  readonly max: number;
}

/** A {@link CertCache} holding at most `max` certificates and `max` verified links. */
export function createCertCache(max = 1024): CertCache {
  return { parsed: new Map(), verifiedLinks: new Set(), max };
}

function remember<K>(c: Map<K, unknown> | Set<K>, max: number): void {
  if (c.size <= max) return;
  const first = c.keys().next();
  if (!first.done) c.delete(first.value);
}

/** Parse one certificate (DER); failures are {@link TdxParseError} `MALFORMED`. */
export function parseCertificate(der: Uint8Array, what: string, cache?: CertCache): X509Certificate {
  const key = cache === undefined ? "" : toHex(der);
  const hit = cache?.parsed.get(key);
  if (hit !== undefined) return hit;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(ab(der));
    // @peculiar/x509 decodes some parts lazily (the public key on first access): touch them here, so a
    // malformed certificate is MALFORMED now and never a raw ASN.1 schema error later (fuzz finding 3,
    // docs/fuzzing.md: an EC public key with broken domain parameters surfaced in verifyChain).
    void cert.publicKey.algorithm;
    void cert.publicKey.rawData;
    void cert.extensions;
    void cert.subject;
    void cert.issuer;
  } catch (cause) {
    throw new TdxParseError("MALFORMED", `Cannot parse ${what} certificate`, { cause });
  }
  if (cache !== undefined) {
    cache.parsed.set(key, cert);
    remember(cache.parsed, cache.max);
  }
  return cert;
}

/** Parse a PEM bundle into certificates, leaf first. */
export function parseCertificatesPem(pem: string, what: string): X509Certificate[] {
  return parsePemCertificates(pem, what).map((d, i) => parseCertificate(d, `${what} #${i}`));
}

/** The trusted root: the built-in Intel SGX Root CA unless `pem` overrides it. */
export function loadTrustedRoot(pem: string = INTEL_SGX_ROOT_CA_PEM): X509Certificate {
  const certs = parseCertificatesPem(pem, "trusted root");
  const root = certs[0];
  if (certs.length !== 1 || root === undefined)
    throw new TdxParseError("MALFORMED", "Cannot load trusted root", {
      expected: "exactly one certificate",
      actual: String(certs.length),
    });
  return root;
}

function spki(c: X509Certificate): Uint8Array {
  return new Uint8Array(c.publicKey.rawData);
}

/** Error codes a chain check reports, so PCK and collateral chains keep distinct codes. */
export interface ChainCodes {
  readonly invalid: TdxVerifyCode;
  readonly expired: TdxVerifyCode;
}

/** Options of {@link verifyChain}. */
export interface ChainOptions {
  readonly now: Date;
  readonly codes: ChainCodes;
  /** What the chain is, for messages ("PCK", "TCB info issuer"). */
  readonly what: string;
  /**
   * Report certificates outside their validity instead of failing (collateral signers only: Intel
   * re-issues signing certificates for the same key, see the v5 TCB-info vector). Default false.
   */
  readonly allowExpired?: boolean;
  /** Reuse parsing and signature checks of identical certificates (see {@link CertCache}). */
  readonly cache?: CertCache;
}

/**
 * Check `chain` (leaf first) up to `root`: each certificate's issuer name is the next one's subject and
 * its signature verifies with the next one's key; every issuing certificate is a CA; the last element is
 * either a copy of the root (same subject and key, signature checked with the root key) or is signed by
 * the root; every certificate, the root included, is within its validity at `now`.
 *
 * @returns the subjects of certificates outside their validity when `allowExpired` is set (else none).
 */
export async function verifyChain(
  chain: readonly X509Certificate[],
  root: X509Certificate,
  opts: ChainOptions,
): Promise<string[]> {
  const { codes, what } = opts;
  const fail = (why: string): never => {
    throw new TdxVerifyError(codes.invalid, `Cannot validate ${what} certificate chain: ${why}`);
  };
  if (chain.length === 0 || chain.length > 4) fail(`unexpected length ${chain.length}`);
  const last = chain[chain.length - 1] as X509Certificate;
  const lastIsRoot = last.subject === root.subject && bytesEqual(spki(last), spki(root));
  if (last.subject === root.subject && !lastIsRoot)
    throw new TdxVerifyError(
      "ROOT_UNTRUSTED",
      `Cannot validate ${what} certificate chain: root not trusted`,
      {
        expected: root.subject,
        actual: "a different key under the same name",
      },
    );
  const issuers = [...chain.slice(1), root];
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    const issuer = issuers[i] as X509Certificate;
    if (cert.issuer !== issuer.subject) {
      if (i === chain.length - 1)
        throw new TdxVerifyError(
          "ROOT_UNTRUSTED",
          `Cannot validate ${what} certificate chain: root not trusted`,
          {
            expected: root.subject,
            actual: cert.issuer,
          },
        );
      fail(`certificate ${i} issued by "${cert.issuer}", next is "${issuer.subject}"`);
    }
    if (!(await verifySignedBy(cert, issuer, opts.cache)))
      fail(`certificate ${i} ("${cert.subject}") signature does not verify with its issuer's key`);
    if (i > 0 && !isCa(cert)) fail(`certificate ${i} ("${cert.subject}") is not a CA`);
  }
  if (!isCa(root)) fail("trusted root is not a CA");
  const expired: string[] = [];
  for (const c of [...chain, ...(lastIsRoot ? [] : [root])]) {
    if (opts.now < c.notBefore || opts.now > c.notAfter) {
      if (opts.allowExpired) {
        expired.push(c.subject);
        continue;
      }
      throw new TdxVerifyError(codes.expired, `Certificate "${c.subject}" has expired or is not yet valid`, {
        expected: `${c.notBefore.toISOString()} ≤ now ≤ ${c.notAfter.toISOString()}`,
        actual: opts.now.toISOString(),
      });
    }
  }
  return expired;
}

/** Does `issuer`'s key verify `cert`'s signature (ECDSA P-256 / SHA-256 for every Intel certificate)? */
export async function verifySignedBy(
  cert: X509Certificate,
  issuer: X509Certificate,
  cache?: CertCache,
): Promise<boolean> {
  const key = cache === undefined ? "" : `${toHex(new Uint8Array(cert.rawData))}|${toHex(spki(issuer))}`;
  if (cache?.verifiedLinks.has(key)) return true;
  let ok: boolean;
  try {
    ok = await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true }, crypto);
  } catch {
    ok = false;
  }
  if (ok && cache !== undefined) {
    cache.verifiedLinks.add(key);
    remember(cache.verifiedLinks, cache.max);
  }
  return ok;
}

/** Does the certificate carry basicConstraints cA = TRUE? */
export function isCa(c: X509Certificate): boolean {
  const bc = c.getExtension(BasicConstraintsExtension);
  return bc?.ca === true;
}

/** Parse a DER CRL; failures are {@link TdxParseError} `COLLATERAL_MALFORMED`. */
export function parseCrl(der: Uint8Array, what: string): X509Crl {
  try {
    return new X509Crl(ab(der));
  } catch (cause) {
    throw new TdxParseError("COLLATERAL_MALFORMED", `Cannot parse ${what}`, { cause });
  }
}

/**
 * Check a CRL: signed by `issuer`, issued under its name, current at `now` (thisUpdate ≤ now ≤
 * nextUpdate; a CRL without nextUpdate is rejected, Intel's always carry one).
 */
export async function verifyCrl(
  crl: X509Crl,
  issuer: X509Certificate,
  now: Date,
  what: string,
): Promise<void> {
  if (crl.issuer !== issuer.subject)
    throw new TdxVerifyError("COLLATERAL_MISMATCH", `${what} is issued by another CA`, {
      expected: issuer.subject,
      actual: crl.issuer,
    });
  let ok = false;
  try {
    ok = await crl.verify({ publicKey: issuer.publicKey }, crypto);
  } catch {
    ok = false;
  }
  if (!ok) throw new TdxVerifyError("COLLATERAL_SIGNATURE_INVALID", `${what} signature does not verify`);
  const next = crl.nextUpdate;
  if (next === undefined || now < crl.thisUpdate || now > next)
    throw new TdxVerifyError("COLLATERAL_EXPIRED", `${what} is not current`, {
      expected: `${crl.thisUpdate.toISOString()} ≤ now ≤ ${next?.toISOString() ?? "(no nextUpdate)"}`,
      actual: now.toISOString(),
    });
}

/** Throw `CERT_REVOKED` when `crl` lists `cert`. */
export function checkNotRevoked(crl: X509Crl, cert: X509Certificate): void {
  if (crl.findRevoked(cert.serialNumber) !== null)
    throw new TdxVerifyError("CERT_REVOKED", `Certificate "${cert.subject}" is revoked`, {
      actual: `serial ${cert.serialNumber}`,
    });
}

/**
 * The certificate's public key as a WebCrypto ECDSA P-256 verification key; any other key type is `code`
 * (every Intel PCK and collateral-signing key is P-256).
 */
export async function ecdsaKeyOf(cert: X509Certificate, code: TdxVerifyCode): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey(
      "spki",
      cert.publicKey.rawData,
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
  } catch (cause) {
    throw new TdxVerifyError(code, `Certificate "${cert.subject}" does not hold an ECDSA P-256 key`, {
      cause,
    });
  }
}
