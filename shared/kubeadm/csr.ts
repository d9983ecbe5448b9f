import { createPublicKey } from "node:crypto";
import { CsrError } from "./errors.ts";
import { x509 } from "./x509.ts";

/** Upper bound on a CSR's DER size. A kubelet CSR is ~300–600 bytes; 16 KiB leaves room for RSA-8192. */
export const MAX_CSR_BYTES = 16 * 1024;
/** ASN.1 resource limits handed to asn1js for untrusted CSRs (nesting depth, node count, content length). */
const BER_LIMITS = { maxDepth: 24, maxNodes: 1024, maxContentLength: MAX_CSR_BYTES };
/** RSA moduli above this only cost verification time; no kubelet uses them. */
const MAX_RSA_BITS = 8192;
const MIN_RSA_BITS = 2048;

/** OID of the PKCS#9 extensionRequest attribute (RFC 2985 §5.4.2), the only attribute a kubelet CSR has. */
export const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
/** OID of subjectAltName (RFC 5280 §4.2.1.6). */
export const OID_SUBJECT_ALT_NAME = "2.5.29.17";

/** One attribute of a distinguished name, flattened across RDNs: `{ type: "CN", value: "…" }`. */
export interface NameAttribute {
  readonly type: string;
  readonly value: string;
}

/** Key type of a CSR, in {@link KeyAlgorithm} spelling. */
export type CsrKeyType = "ECDSA-P256" | "ECDSA-P384" | "RSA";

/** A parsed (not yet verified) PKCS#10 certification request (RFC 2986). */
export interface ParsedCsr {
  readonly csr: x509.Pkcs10CertificateRequest;
  readonly subject: readonly NameAttribute[];
  /** Requested subjectAltNames (from the extensionRequest attribute). */
  readonly sans: readonly x509.JsonGeneralName[];
  /** OIDs of every requested extension. */
  readonly extensionOids: readonly string[];
  /** OIDs of every CSR attribute. */
  readonly attributeOids: readonly string[];
  /** DER SubjectPublicKeyInfo of the requested key. */
  readonly spki: Uint8Array;
}

/** A CSR whose self-signature verified and whose key is acceptable. */
export interface VerifiedCsr extends ParsedCsr {
  readonly keyType: CsrKeyType;
}

function malformed(cause: unknown, actual = "undecodable DER"): CsrError {
  return new CsrError("CSR_MALFORMED", "Cannot parse certificate request", {
    expected: "a DER PKCS#10 CertificationRequest (RFC 2986)",
    actual,
    cause,
  });
}

/**
 * Parses a DER PKCS#10 CSR, bounded in size and ASN.1 complexity. Touches every lazily decoded part (subject,
 * key, attributes, extensions, SANs) inside the guarded block, so a malformed CSR only ever raises
 * {@link CsrError} here and never later. Passes no judgement on content.
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  if (!(der instanceof Uint8Array) || der.length === 0 || der.length > MAX_CSR_BYTES) {
    throw new CsrError("CSR_TOO_LARGE", "Cannot parse certificate request", {
      expected: `1..${MAX_CSR_BYTES} bytes`,
      actual: `${der?.length ?? 0} bytes`,
    });
  }
  try {
    // The outer SEQUENCE must span the input exactly: asn1js ignores trailing bytes, we do not.
    if (outerDerLength(der) !== der.length) throw new Error("outer SEQUENCE length does not match the input");
    const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(der), { berOptions: BER_LIMITS });
    const subject: NameAttribute[] = [];
    for (const rdn of csr.subjectName.toJSON()) {
      for (const [type, values] of Object.entries(rdn)) {
        for (const value of values) subject.push({ type, value });
      }
    }
    const attributeOids = csr.attributes.map((a) => a.type);
    const extensionOids = csr.extensions.map((e) => e.type);
    const sans: x509.JsonGeneralName[] = [];
    for (const ext of csr.extensions) {
      if (ext.type !== OID_SUBJECT_ALT_NAME) continue;
      const san = new x509.SubjectAlternativeNameExtension(ext.rawData, { berOptions: BER_LIMITS });
      sans.push(...san.names.toJSON());
    }
    const spki = new Uint8Array(csr.publicKey.rawData);
    void csr.signatureAlgorithm;
    return { csr, subject, sans, extensionOids, attributeOids, spki };
  } catch (cause) {
    throw malformed(cause);
  }
}

/**
 * Total length of the outermost DER SEQUENCE (tag, length, contents), or -1 if the header is not a
 * minimally encoded definite-length SEQUENCE (X.690 §8.1.3, §10.1).
 */
function outerDerLength(b: Uint8Array): number {
  if (b[0] !== 0x30 || b.length < 2) return -1;
  const first = b[1] as number;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 3 || b.length < 2 + n || b[2] === 0) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (b[2 + i] as number);
  return len < 0x80 ? -1 : 2 + n + len;
}

/** Accepted CSR signature algorithms: ECDSA or RSA PKCS#1 v1.5 with SHA-2 (no SHA-1, no MD5). */
const ALLOWED_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

function keyTypeOf(spki: Uint8Array): CsrKeyType {
  let obj: ReturnType<typeof createPublicKey>;
  try {
    obj = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (cause) {
    throw new CsrError("CSR_KEY_UNSUPPORTED", "Cannot use certificate request key", {
      expected: "an ECDSA P-256/P-384 or RSA public key",
      actual: "an unparseable SubjectPublicKeyInfo",
      cause,
    });
  }
  const type = obj.asymmetricKeyType;
  const d = obj.asymmetricKeyDetails ?? {};
  if (type === "ec") {
    if (d.namedCurve === "prime256v1") return "ECDSA-P256";
    if (d.namedCurve === "secp384r1") return "ECDSA-P384";
  }
  if (type === "rsa") {
    const bits = d.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw new CsrError("CSR_KEY_WEAK", "Cannot use certificate request key", {
        expected: `RSA ≥ ${MIN_RSA_BITS} bits`,
        actual: `RSA ${bits} bits`,
      });
    }
    if (bits <= MAX_RSA_BITS) return "RSA";
  }
  throw new CsrError("CSR_KEY_UNSUPPORTED", "Cannot use certificate request key", {
    expected: `ECDSA P-256/P-384 or RSA ${MIN_RSA_BITS}..${MAX_RSA_BITS} bits`,
    actual: `${type ?? "unknown"}${d.namedCurve ? ` ${d.namedCurve}` : ""}${d.modulusLength ? ` ${d.modulusLength} bits` : ""}`,
  });
}

/**
 * Checks that a parsed CSR is authentic: an acceptable key (ECDSA P-256/P-384 or RSA 2048–8192) and a valid
 * self-signature (proof of possession of the private key) with a SHA-2 signature algorithm.
 */
export async function verifyCsr(parsed: ParsedCsr, crypto: Crypto = globalThis.crypto): Promise<VerifiedCsr> {
  const keyType = keyTypeOf(parsed.spki);
  const alg = parsed.csr.signatureAlgorithm;
  const hash = alg.hash?.name;
  const family = keyType === "RSA" ? "RSASSA-PKCS1-v1_5" : "ECDSA";
  if (alg.name !== family || hash === undefined || !ALLOWED_HASHES.has(hash)) {
    throw new CsrError("CSR_SIGNATURE_ALGORITHM_UNSUPPORTED", "Cannot verify certificate request", {
      expected: `${family} with SHA-256/384/512`,
      actual: `${alg.name}${hash ? ` with ${hash}` : ""}`,
    });
  }
  let ok = false;
  try {
    ok = await parsed.csr.verify(crypto);
  } catch (cause) {
    throw new CsrError("CSR_SIGNATURE_INVALID", "Cannot verify certificate request", {
      expected: "a signature by the requested key",
      actual: "an unverifiable signature",
      cause,
    });
  }
  if (!ok) {
    throw new CsrError("CSR_SIGNATURE_INVALID", "Cannot verify certificate request", {
      expected: "a signature by the requested key",
      actual: "a signature that does not verify",
    });
  }
  return { ...parsed, keyType };
}
