import { bytesEqual } from "@asterism/bytes";
import {
  type AlgorithmIdentifier,
  bitStringBytes,
  type Certificate,
  type Name,
  parseAlgorithmIdentifier,
  parseName,
  parseTime,
} from "./certificate.ts";
import { children, decodeSigned, decodeUnsigned, expectTag, parseDer, TAG, type Tlv } from "./der.ts";
import { PkiError } from "./errors.ts";
import { signatureSchemeOf, verifySignature } from "./signature.ts";

/** One revoked certificate entry. */
export interface RevokedCertificate {
  readonly serialNumber: bigint;
  readonly revocationDate: Date;
}

/**
 * A parsed CRL (RFC 5280 §5.1).
 *
 * ```asn1
 * CertificateList ::= SEQUENCE { tbsCertList TBSCertList, signatureAlgorithm AlgorithmIdentifier,
 *                                signatureValue BIT STRING }
 * TBSCertList ::= SEQUENCE { version Version OPTIONAL, signature AlgorithmIdentifier, issuer Name,
 *   thisUpdate Time, nextUpdate Time OPTIONAL,
 *   revokedCertificates SEQUENCE OF SEQUENCE { userCertificate CertificateSerialNumber,
 *     revocationDate Time, crlEntryExtensions Extensions OPTIONAL } OPTIONAL,
 *   crlExtensions [0] EXPLICIT Extensions OPTIONAL }
 * ```
 */
export interface Crl {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly issuer: Name;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly revoked: readonly RevokedCertificate[];
  readonly signatureValue: Uint8Array;
}

/** Largest CRL accepted (AMD's KDS CRLs are a few KiB). */
export const MAX_CRL_BYTES = 1 << 20;

function crlError(action: string, expected: string, actual: string): PkiError {
  return new PkiError("CRL_INVALID", action, { expected, actual });
}

function isTime(t: Tlv | undefined): boolean {
  return t?.tag === TAG.UTC_TIME || t?.tag === TAG.GENERALIZED_TIME;
}

/** Parse a DER CRL. Throws {@link PkiError} `DER_INVALID` or `CRL_INVALID`. */
export function parseCrl(der: Uint8Array): Crl {
  if (der.length > MAX_CRL_BYTES)
    throw crlError("Cannot parse CRL", `at most ${MAX_CRL_BYTES} bytes`, `${der.length} bytes`);
  const top = children(expectTag(parseDer(der), TAG.SEQUENCE, "CertificateList"));
  if (top.length !== 3) throw crlError("Cannot parse CRL", "3 elements", String(top.length));
  const [tbsTlv, algTlv, sigTlv] = top as [Tlv, Tlv, Tlv];
  const tbs = children(expectTag(tbsTlv, TAG.SEQUENCE, "TBSCertList"));
  let i = 0;
  if (tbs[0]?.tag === TAG.INTEGER) {
    if (decodeUnsigned(tbs[0], "version") !== 1n) throw crlError("Cannot read CRL version", "v2", "other");
    i = 1;
  }
  const inner = parseAlgorithmIdentifier(tbs[i]);
  const issuer = parseName(tbs[i + 1]);
  const thisUpdate = parseTime(tbs[i + 2], "thisUpdate");
  let j = i + 3;
  let nextUpdate: Date | undefined;
  if (isTime(tbs[j])) {
    nextUpdate = parseTime(tbs[j], "nextUpdate");
    j++;
  }
  const revoked: RevokedCertificate[] = [];
  if (tbs[j]?.tag === TAG.SEQUENCE) {
    for (const entry of children(tbs[j] as Tlv)) {
      const parts = children(expectTag(entry, TAG.SEQUENCE, "revokedCertificate"));
      if (parts.length < 2 || parts.length > 3)
        throw crlError("Cannot read CRL entry", "2 or 3 elements", "other");
      revoked.push({
        serialNumber: decodeSigned(parts[0] as Tlv, "userCertificate"),
        revocationDate: parseTime(parts[1], "revocationDate"),
      });
    }
    j++;
  }
  if (tbs[j]?.tag === 0xa0) j++;
  if (j !== tbs.length) throw crlError("Cannot parse TBSCertList", `${j} elements`, `${tbs.length}`);
  const signatureAlgorithm = parseAlgorithmIdentifier(algTlv);
  if (signatureAlgorithm.oid !== inner.oid)
    throw crlError("Cannot parse CRL", "identical inner and outer signature algorithms", "different");
  return {
    der,
    tbs: tbsTlv.raw,
    signatureAlgorithm,
    issuer,
    thisUpdate,
    nextUpdate,
    revoked,
    signatureValue: bitStringBytes(sigTlv, "signatureValue"),
  };
}

/**
 * Check that `issuer` signed `crl` and that the CRL is current at `now` (thisUpdate ≤ now ≤ nextUpdate).
 * Throws {@link PkiError} `ISSUER_MISMATCH`, `SIGNATURE_INVALID`, `NOT_YET_VALID` or `EXPIRED`.
 */
export async function verifyCrl(crl: Crl, issuer: Certificate, now: Date): Promise<void> {
  if (!bytesEqual(crl.issuer.der, issuer.subject.der))
    throw new PkiError("ISSUER_MISMATCH", "Cannot match CRL to its issuer", {
      expected: JSON.stringify(issuer.subject.commonName ?? "?"),
      actual: JSON.stringify(crl.issuer.commonName ?? "?"),
    });
  const ok = await verifySignature(
    issuer.spki,
    signatureSchemeOf(crl.signatureAlgorithm),
    crl.tbs,
    crl.signatureValue,
  );
  if (!ok) throw new PkiError("SIGNATURE_INVALID", "CRL signature does not verify", {});
  if (now.getTime() < crl.thisUpdate.getTime())
    throw new PkiError("NOT_YET_VALID", "CRL is not yet valid", {
      expected: `not before ${crl.thisUpdate.toISOString()}`,
      actual: now.toISOString(),
    });
  if (crl.nextUpdate !== undefined && now.getTime() > crl.nextUpdate.getTime())
    throw new PkiError("EXPIRED", "CRL is out of date", {
      expected: `not after ${crl.nextUpdate.toISOString()}`,
      actual: now.toISOString(),
    });
}

/**
 * Throw {@link PkiError} `REVOKED` when `cert` (issued by the CRL's issuer) is listed in `crl`. Verify the
 * CRL first with {@link verifyCrl}: this function only looks the serial number up.
 */
export function checkNotRevoked(cert: Certificate, crl: Crl): void {
  if (!bytesEqual(cert.issuer.der, crl.issuer.der))
    throw new PkiError("ISSUER_MISMATCH", "Cannot check revocation with another issuer's CRL", {
      expected: JSON.stringify(cert.issuer.commonName ?? "?"),
      actual: JSON.stringify(crl.issuer.commonName ?? "?"),
    });
  const hit = crl.revoked.find((r) => r.serialNumber === cert.serialNumber);
  if (hit !== undefined)
    throw new PkiError(
      "REVOKED",
      `Certificate ${JSON.stringify(cert.subject.commonName ?? "?")} is revoked`,
      {
        expected: "not listed in the CRL",
        actual: `serial 0x${cert.serialNumber.toString(16)} revoked at ${hit.revocationDate.toISOString()}`,
      },
    );
}
