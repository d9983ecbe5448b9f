// Certificate extensions the service identities use, read with @asterism/pki's strict DER parser.
import { fromUtf8 } from "@asterism/bytes";
import { type Certificate, children, decodeOid, findExtension, PkiError, parseDer, TAG } from "@asterism/pki";

/** RFC 5280 §4.2.1.6 id-ce-subjectAltName. */
export const OID_SUBJECT_ALT_NAME = "2.5.29.17";
/** RFC 5280 §4.2.1.12 id-ce-extKeyUsage and id-kp-clientAuth. */
export const OID_EXT_KEY_USAGE = "2.5.29.37";
export const OID_KP_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
/** GeneralName `uniformResourceIdentifier [6] IA5String` (RFC 5280 §4.2.1.6), context-specific primitive. */
export const GENERAL_NAME_URI = 0x86;

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId; absent extension → none. */
export function extendedKeyUsages(cert: Certificate): string[] {
  const ext = findExtension(cert, OID_EXT_KEY_USAGE);
  if (ext === undefined) return [];
  const seq = parseDer(ext.value);
  if (seq.tag !== TAG.SEQUENCE) return [];
  return children(seq).map((t) => (t.tag === TAG.OID ? decodeOid(t) : ""));
}

/** The URI entries of SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName. */
export function sanUris(cert: Certificate): string[] {
  const ext = findExtension(cert, OID_SUBJECT_ALT_NAME);
  if (ext === undefined) return [];
  const seq = parseDer(ext.value);
  if (seq.tag !== TAG.SEQUENCE) return [];
  return children(seq)
    .filter((t) => t.tag === GENERAL_NAME_URI)
    .map((t) => ia5(t.value));
}

/** IA5String is 7-bit ASCII (X.680 §41); anything else is a malformed certificate, not a name to match. */
function ia5(b: Uint8Array): string {
  for (const x of b) {
    if (x > 0x7f) {
      throw new PkiError("CERT_INVALID", "Cannot read subjectAltName URI", {
        expected: "IA5String (ASCII)",
        actual: "a byte above 0x7f",
      });
    }
  }
  return fromUtf8(b);
}
