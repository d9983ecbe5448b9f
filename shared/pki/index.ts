/**
 * Small, strict X.509 helpers shared by the SEV-SNP, TDX and attestation modules: PEM and DER parsing,
 * certificate signature checks by the issuer (RSASSA-PSS, RSASSA-PKCS1-v1_5, ECDSA) with WebCrypto,
 * validity at an injected time, and CRL parsing and revocation lookups.
 *
 * Our own DER reader is deliberately narrow (RFC 5280 profile, canonical DER only) so that what is signed is
 * exactly what is parsed; it tolerates the zero serial numbers of AMD VCEK/VLEK certificates.
 *
 * @example
 * import { certificatesFromPemOrDer, parseCertificate, verifyIssuedBy, checkValidity } from "@asterism/pki";
 * const [ask, ark] = certificatesFromPemOrDer(chainBytes).map(parseCertificate);
 * await verifyIssuedBy(ark, ark);
 * await verifyIssuedBy(ask, ark);
 * checkValidity(ask, now);
 *
 * @module
 */
export {
  type AlgorithmIdentifier,
  type Certificate,
  type Extension,
  findExtension,
  MAX_CERT_BYTES,
  type Name,
  type NameAttribute,
  parseCertificate,
} from "./certificate.ts";
export { checkValidity, verifyIssuedBy } from "./chain.ts";
export {
  type Crl,
  checkNotRevoked,
  MAX_CRL_BYTES,
  parseCrl,
  type RevokedCertificate,
  verifyCrl,
} from "./crl.ts";
export { children, decodeOid, decodeUnsigned, parseDer, TAG, type Tlv } from "./der.ts";
export { PkiError, type PkiErrorCode } from "./errors.ts";
export { OID } from "./oids.ts";
export { certificatesFromPemOrDer, MAX_PEM_CHARS, type PemBlock, parsePem, toPem } from "./pem.ts";
export {
  ecdsaDerToRaw,
  importVerifyKey,
  type SignatureScheme,
  signatureSchemeOf,
  verifySignature,
} from "./signature.ts";
