/** Object identifiers this module understands, named as their RFCs name them. */
export const OID = {
  /** RFC 8017 A.1: rsaEncryption. */
  rsaEncryption: "1.2.840.113549.1.1.1",
  /** RFC 8017 A.2.3 / RFC 4055 §3.1: id-RSASSA-PSS. */
  rsassaPss: "1.2.840.113549.1.1.10",
  /** RFC 8017 B.2.1: id-mgf1. */
  mgf1: "1.2.840.113549.1.1.8",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  sha512WithRSAEncryption: "1.2.840.113549.1.1.13",
  /** RFC 5480 §2.1.1: id-ecPublicKey. */
  ecPublicKey: "1.2.840.10045.2.1",
  secp256r1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  secp521r1: "1.3.132.0.35",
  /** RFC 5758 §3.2. */
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
  ecdsaWithSHA512: "1.2.840.10045.4.3.4",
  /** NIST hash algorithms (RFC 5758 §2). */
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
  /** X.520 id-at-commonName. */
  commonName: "2.5.4.3",
} as const;
