import { AsterismError } from "@asterism/errors";

/**
 * Why an attested-TLS connection was refused. One code per check in `docs/atls.md`, so a test (and an
 * operator) can tell a replayed document from an expired certificate without reading messages.
 */
export type AtlsErrorCode =
  /** The TLS handshake did not complete within the handshake deadline (slow-loris, dead peer). */
  | "HANDSHAKE_TIMEOUT"
  /** TLS itself failed (alert, reset, no certificate for a name-less ClientHello …). */
  | "HANDSHAKE_FAILED"
  /** The peer offered or negotiated anything but TLS 1.3. */
  | "TLS_VERSION_REJECTED"
  /** The ClientHello carried no server name, or one outside the aTLS nonce suffix. */
  | "NONCE_MISSING"
  /** The server name has the aTLS suffix but its nonce label is not canonical base32 of 32 bytes. */
  | "NONCE_MALFORMED"
  /** Too many handshakes are waiting for evidence at once; this one was refused instead of queued. */
  | "BUSY"
  /**
   * The server cannot judge client evidence yet (e.g. the JoinService has no policy loaded); the
   * connection was refused before validation. Like `BUSY`, a reason to retry, not a verdict on the peer.
   */
  | "NOT_READY"
  /** The peer certificate is not parseable DER, or not the shape aTLS mints (algorithm, size). */
  | "CERT_MALFORMED"
  /** The peer certificate's issuer is not its subject, or its signature does not verify under its own key. */
  | "CERT_NOT_SELF_SIGNED"
  /** `now` is after the certificate's notAfter. */
  | "CERT_EXPIRED"
  /** `now` is before the certificate's notBefore. */
  | "CERT_NOT_YET_VALID"
  /** notAfter − notBefore exceeds the allowed validity (aTLS certificates are short-lived). */
  | "CERT_VALIDITY_TOO_LONG"
  /** The certificate has a critical extension aTLS does not understand (RFC 5280 §4.2). */
  | "CERT_UNKNOWN_CRITICAL_EXTENSION"
  /** The peer did not present a certificate although its evidence must be bound to one. */
  | "CERT_MISSING"
  /** No attestation extension (no extension under an OID of the variant registry). */
  | "EVIDENCE_MISSING"
  /** More than one attestation extension: which one the peer meant is ambiguous. */
  | "EVIDENCE_AMBIGUOUS"
  /** The evidence is for a variant this side has no validator for. */
  | "EVIDENCE_VARIANT_NOT_ACCEPTED"
  /** The attestation document exceeds the size bound. */
  | "EVIDENCE_TOO_LARGE"
  /** The variant's validator rejected the document (authenticity, nonce, measurements); see `cause`. */
  | "EVIDENCE_REJECTED"
  /** The document is valid but vouches for another key: userData ≠ SHA-256(certificate SPKI). */
  | "EVIDENCE_KEY_MISMATCH"
  /** Issuing or validating evidence (or receiving the client's evidence) took longer than allowed. */
  | "ATTESTATION_TIMEOUT"
  /** This side could not produce evidence (issuer failed). */
  | "ISSUE_FAILED"
  /** A frame of the client-evidence exchange is malformed (wrong magic, version, size), e.g. plain HTTP. */
  | "PROTOCOL_VIOLATION"
  /** The client sent bytes after its evidence before the server's verdict. */
  | "UNEXPECTED_DATA"
  /** The server refused our evidence; `actual` carries the server's code. */
  | "PEER_REJECTED"
  /** The connection closed before the exchange finished. */
  | "CONNECTION_CLOSED"
  /** No complete request head arrived within the header deadline (slow-loris on HTTP). */
  | "HEADER_TIMEOUT"
  /** A request did not finish within the request deadline. */
  | "REQUEST_TIMEOUT"
  /** The caller's options are unusable (no validators for a mode that needs them, bad URL …). */
  | "INVALID_OPTIONS";

/** Every refusal of attested TLS, on either side. */
export class AtlsError extends AsterismError<AtlsErrorCode> {
  override readonly domain = "atls";
}
