import { fromUtf8, toHex } from "@asterism/bytes";
import {
  children,
  decodeOid,
  decodeSigned,
  decodeUnsigned,
  expectTag,
  parseDer,
  TAG,
  type Tlv,
} from "./der.ts";
import { PkiError } from "./errors.ts";
import { OID } from "./oids.ts";

/** AlgorithmIdentifier (RFC 5280 §4.1.1.2): the OID and the raw DER of its parameters, if any. */
export interface AlgorithmIdentifier {
  readonly oid: string;
  readonly params: Tlv | undefined;
}

/** One AttributeTypeAndValue of a Name; `value` is the decoded string, or hex for non-string types. */
export interface NameAttribute {
  readonly oid: string;
  readonly value: string;
}

/** A distinguished name: its exact DER (compared byte for byte when chaining) and its attributes. */
export interface Name {
  readonly der: Uint8Array;
  readonly attributes: readonly NameAttribute[];
  /** The first commonName, if any. */
  readonly commonName: string | undefined;
}

/** One certificate extension (RFC 5280 §4.1): `value` is the content of the extnValue OCTET STRING. */
export interface Extension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/**
 * A parsed X.509 v1/v3 certificate (RFC 5280 §4.1). Parsing passes no judgement on validity or trust;
 * see `verifyIssuedBy` and `checkValidity`.
 *
 * ```asn1
 * Certificate  ::=  SEQUENCE  { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier,
 *                               signatureValue BIT STRING }
 * TBSCertificate  ::=  SEQUENCE  { version [0] EXPLICIT Version DEFAULT v1, serialNumber CertificateSerialNumber,
 *      signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name,
 *      subjectPublicKeyInfo SubjectPublicKeyInfo, issuerUniqueID [1] IMPLICIT UniqueIdentifier OPTIONAL,
 *      subjectUniqueID [2] IMPLICIT UniqueIdentifier OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
 * ```
 */
export interface Certificate {
  readonly der: Uint8Array;
  /** The exact signed bytes (the TBSCertificate element). */
  readonly tbs: Uint8Array;
  /** 1, 2 or 3. */
  readonly version: number;
  /**
   * The serial number. AMD VCEK/VLEK certificates carry 0, which RFC 5280 §4.1.2.2 forbids but which we
   * must tolerate (constellation VECTORS.md caveat "Zero serial numbers"); negative serials are kept too.
   */
  readonly serialNumber: bigint;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly issuer: Name;
  readonly subject: Name;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The SubjectPublicKeyInfo element, DER. */
  readonly spki: Uint8Array;
  readonly publicKeyAlgorithm: AlgorithmIdentifier;
  readonly extensions: readonly Extension[];
  /** The signature bits (BIT STRING content without the unused-bits byte). */
  readonly signatureValue: Uint8Array;
}

/** Largest certificate accepted: AMD's RSA-4096 ARK/ASK are ~1.6 KiB; 64 KiB leaves ample room. */
export const MAX_CERT_BYTES = 65536;

function certError(action: string, expected: string, actual: string): PkiError {
  return new PkiError("CERT_INVALID", action, { expected, actual });
}

export function parseAlgorithmIdentifier(tlv: Tlv | undefined): AlgorithmIdentifier {
  const parts = children(expectTag(tlv, TAG.SEQUENCE, "AlgorithmIdentifier"));
  if (parts.length < 1 || parts.length > 2)
    throw new PkiError("DER_INVALID", "Cannot read AlgorithmIdentifier", {
      expected: "1 or 2 elements",
      actual: String(parts.length),
    });
  return { oid: decodeOid(parts[0] as Tlv), params: parts[1] };
}

/** BIT STRING content with zero unused bits (all signatures and keys are whole bytes). */
export function bitStringBytes(tlv: Tlv | undefined, what: string): Uint8Array {
  const v = expectTag(tlv, TAG.BIT_STRING, what).value;
  if (v.length < 1 || v[0] !== 0)
    throw new PkiError("DER_INVALID", `Cannot read ${what}`, {
      expected: "a BIT STRING with 0 unused bits",
      actual: v.length === 0 ? "empty" : `${v[0]} unused bits`,
    });
  return v.subarray(1);
}

function attributeValue(tlv: Tlv): string {
  switch (tlv.tag) {
    case TAG.UTF8_STRING:
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
      try {
        return fromUtf8(tlv.value);
      } catch (cause) {
        throw new PkiError("DER_INVALID", "Cannot read name attribute", { expected: "UTF-8", cause });
      }
    default:
      return toHex(tlv.raw);
  }
}

/** Name (RFC 5280 §4.1.2.4): SEQUENCE OF SET OF AttributeTypeAndValue. */
export function parseName(tlv: Tlv | undefined): Name {
  const seq = expectTag(tlv, TAG.SEQUENCE, "Name");
  const attributes: NameAttribute[] = [];
  for (const rdn of children(seq)) {
    for (const atv of children(expectTag(rdn, TAG.SET, "RelativeDistinguishedName"))) {
      const [type, value, ...rest] = children(expectTag(atv, TAG.SEQUENCE, "AttributeTypeAndValue"));
      if (type === undefined || value === undefined || rest.length > 0)
        throw new PkiError("DER_INVALID", "Cannot read AttributeTypeAndValue", { expected: "2 elements" });
      attributes.push({ oid: decodeOid(type), value: attributeValue(value) });
    }
  }
  return {
    der: seq.raw,
    attributes,
    commonName: attributes.find((a) => a.oid === OID.commonName)?.value,
  };
}

const DIGITS = /^[0-9]+$/;

/** Time (RFC 5280 §4.1.2.5): UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, nothing looser. */
export function parseTime(tlv: Tlv | undefined, what: string): Date {
  if (tlv === undefined) throw certError(`Cannot read ${what}`, "a Time", "end of structure");
  const s = new TextDecoder().decode(tlv.value);
  let year: number;
  let rest: string;
  if (tlv.tag === TAG.UTC_TIME && s.length === 13) {
    const yy = Number(s.slice(0, 2));
    year = yy < 50 ? 2000 + yy : 1900 + yy; // RFC 5280 §4.1.2.5.1
    rest = s.slice(2);
  } else if (tlv.tag === TAG.GENERALIZED_TIME && s.length === 15) {
    year = Number(s.slice(0, 4));
    rest = s.slice(4);
  } else {
    throw certError(`Cannot read ${what}`, "UTCTime or GeneralizedTime in Z form", JSON.stringify(s));
  }
  const digits = rest.slice(0, 10);
  if (!rest.endsWith("Z") || !DIGITS.test(digits) || !DIGITS.test(s.slice(0, s.length - 11)))
    throw certError(`Cannot read ${what}`, "YYMMDDHHMMSSZ", JSON.stringify(s));
  const [mo, d, h, mi, se] = [0, 2, 4, 6, 8].map((i) => Number(digits.slice(i, i + 2))) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const t = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(t);
  if (
    mo < 1 ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    se > 59 ||
    back.getUTCFullYear() !== year
  )
    throw certError(`Cannot read ${what}`, "a calendar date", JSON.stringify(s));
  return back;
}

function parseExtensions(tlv: Tlv): Extension[] {
  const [inner, ...rest] = children(tlv);
  if (inner === undefined || rest.length > 0)
    throw certError("Cannot read extensions", "one SEQUENCE", "more");
  const out: Extension[] = [];
  const seen = new Set<string>();
  for (const ext of children(expectTag(inner, TAG.SEQUENCE, "Extensions"))) {
    const parts = children(expectTag(ext, TAG.SEQUENCE, "Extension"));
    const oid = decodeOid(expectTag(parts[0], TAG.OID, "extnID"));
    let critical = false;
    let i = 1;
    if (parts[1]?.tag === TAG.BOOLEAN) {
      const b = parts[1].value;
      // DER: DEFAULT FALSE must be omitted, so an explicit BOOLEAN is TRUE (0xff) (X.690 §11.5, §11.1).
      if (b.length !== 1 || b[0] !== 0xff)
        throw certError(`Cannot read critical of ${oid}`, "TRUE", toHex(b));
      critical = true;
      i = 2;
    }
    const value = expectTag(parts[i], TAG.OCTET_STRING, `extnValue of ${oid}`).value;
    if (parts.length !== i + 1) throw certError(`Cannot read extension ${oid}`, `${i + 1} elements`, "more");
    // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
    if (seen.has(oid)) throw certError("Cannot read extensions", "each extension once", `${oid} twice`);
    seen.add(oid);
    out.push({ oid, critical, value });
  }
  return out;
}

/**
 * Parse a DER certificate (RFC 5280 §4.1). Throws {@link PkiError} `DER_INVALID` or `CERT_INVALID`.
 *
 * @example
 * const vcek = parseCertificate(await readFile("vcek.der"));
 * vcek.subject.commonName; // "SEV-VCEK"
 */
export function parseCertificate(der: Uint8Array): Certificate {
  if (der.length > MAX_CERT_BYTES)
    throw certError("Cannot parse certificate", `at most ${MAX_CERT_BYTES} bytes`, `${der.length} bytes`);
  const top = children(expectTag(parseDer(der), TAG.SEQUENCE, "Certificate"));
  if (top.length !== 3) throw certError("Cannot parse certificate", "3 elements", String(top.length));
  const [tbsTlv, sigAlgTlv, sigTlv] = top as [Tlv, Tlv, Tlv];
  const tbs = children(expectTag(tbsTlv, TAG.SEQUENCE, "TBSCertificate"));
  let i = 0;
  let version = 1;
  if (tbs[0]?.tag === 0xa0) {
    const [v, ...rest] = children(tbs[0]);
    if (v === undefined || rest.length > 0) throw certError("Cannot read version", "one INTEGER", "more");
    const n = decodeUnsigned(v, "version");
    if (n !== 1n && n !== 2n) throw certError("Cannot read version", "v2 or v3", `${n + 1n}`);
    version = Number(n) + 1;
    i = 1;
  }
  const serialNumber = decodeSigned(tbs[i] as Tlv, "serialNumber");
  const innerAlg = parseAlgorithmIdentifier(tbs[i + 1]);
  const issuer = parseName(tbs[i + 2]);
  const validity = children(expectTag(tbs[i + 3], TAG.SEQUENCE, "Validity"));
  if (validity.length !== 2) throw certError("Cannot read Validity", "2 elements", String(validity.length));
  const notBefore = parseTime(validity[0], "notBefore");
  const notAfter = parseTime(validity[1], "notAfter");
  const subject = parseName(tbs[i + 4]);
  const spkiTlv = expectTag(tbs[i + 5], TAG.SEQUENCE, "SubjectPublicKeyInfo");
  const spkiParts = children(spkiTlv);
  if (spkiParts.length !== 2) throw certError("Cannot read SubjectPublicKeyInfo", "2 elements", "other");
  const publicKeyAlgorithm = parseAlgorithmIdentifier(spkiParts[0]);
  bitStringBytes(spkiParts[1], "subjectPublicKey");
  let extensions: Extension[] = [];
  let j = i + 6;
  // issuerUniqueID [1] and subjectUniqueID [2] are obsolete (RFC 5280 §4.1.2.8); tolerate, ignore.
  if (tbs[j]?.tag === 0x81) j++;
  if (tbs[j]?.tag === 0x82) j++;
  if (tbs[j]?.tag === 0xa3) {
    if (version !== 3) throw certError("Cannot read extensions", "version 3", `version ${version}`);
    extensions = parseExtensions(tbs[j] as Tlv);
    j++;
  }
  if (j !== tbs.length)
    throw certError("Cannot parse TBSCertificate", `${j} elements`, `${tbs.length} elements`);
  const signatureAlgorithm = parseAlgorithmIdentifier(sigAlgTlv);
  // RFC 5280 §4.1.1.2: the outer and inner algorithm identifiers MUST be identical.
  if (!sameBytes(innerAlg, signatureAlgorithm))
    throw certError(
      "Cannot parse certificate",
      "identical inner and outer signature algorithms",
      "different",
    );
  return {
    der,
    tbs: tbsTlv.raw,
    version,
    serialNumber,
    signatureAlgorithm,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki: spkiTlv.raw,
    publicKeyAlgorithm,
    extensions,
    signatureValue: bitStringBytes(sigTlv, "signatureValue"),
  };
}

function sameBytes(a: AlgorithmIdentifier, b: AlgorithmIdentifier): boolean {
  if (a.oid !== b.oid) return false;
  const pa = a.params?.raw;
  const pb = b.params?.raw;
  if (pa === undefined || pb === undefined) return pa === pb;
  return pa.length === pb.length && pa.every((x, k) => x === pb[k]);
}

/** The extension with `oid`, if present. */
export function findExtension(cert: Certificate, oid: string): Extension | undefined {
  return cert.extensions.find((e) => e.oid === oid);
}
