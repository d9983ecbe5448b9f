import { bytesEqual } from "@asterism/bytes";
import type { Certificate } from "./certificate.ts";
import { PkiError } from "./errors.ts";
import { signatureSchemeOf, verifySignature } from "./signature.ts";

/**
 * Check that `issuer` signed `cert`: the issuer name equals the issuer's subject (byte for byte; RFC 5280
 * §7.1 name matching, which is exact for the certificates we chain), and the signature over the
 * TBSCertificate verifies with the issuer's key under the certificate's signature algorithm (RSASSA-PSS,
 * PKCS#1 v1.5 or ECDSA). For a self-signed root pass the same certificate twice.
 *
 * Throws {@link PkiError} `ISSUER_MISMATCH`, `SIGNATURE_INVALID` or `UNSUPPORTED_ALGORITHM`.
 *
 * @example
 * await verifyIssuedBy(ask, ark); // ASK signed by ARK
 * await verifyIssuedBy(ark, ark); // ARK self-signed
 */
export async function verifyIssuedBy(cert: Certificate, issuer: Certificate): Promise<void> {
  if (!bytesEqual(cert.issuer.der, issuer.subject.der))
    throw new PkiError("ISSUER_MISMATCH", "Cannot chain certificate to its issuer", {
      expected: `issuer ${JSON.stringify(issuer.subject.commonName ?? "?")}`,
      actual: `issuer ${JSON.stringify(cert.issuer.commonName ?? "?")}`,
    });
  const ok = await verifySignature(
    issuer.spki,
    signatureSchemeOf(cert.signatureAlgorithm),
    cert.tbs,
    cert.signatureValue,
  );
  if (!ok)
    throw new PkiError("SIGNATURE_INVALID", "Certificate signature does not verify", {
      expected: `signed by ${JSON.stringify(issuer.subject.commonName ?? "?")}`,
      actual: `${JSON.stringify(cert.subject.commonName ?? "?")} not signed by that key`,
    });
}

/**
 * Check `now` lies within the certificate's validity (RFC 5280 §4.1.2.5, both bounds inclusive).
 * Throws {@link PkiError} `NOT_YET_VALID` or `EXPIRED`.
 */
export function checkValidity(cert: Certificate, now: Date): void {
  const what = JSON.stringify(cert.subject.commonName ?? "certificate");
  if (now.getTime() < cert.notBefore.getTime())
    throw new PkiError("NOT_YET_VALID", `Certificate ${what} is not yet valid`, {
      expected: `not before ${cert.notBefore.toISOString()}`,
      actual: now.toISOString(),
    });
  if (now.getTime() > cert.notAfter.getTime())
    throw new PkiError("EXPIRED", `Certificate ${what} has expired`, {
      expected: `not after ${cert.notAfter.toISOString()}`,
      actual: now.toISOString(),
    });
}
