/**
 * Attested TLS (docs/atls.md): TLS 1.3 channels whose endpoints prove what they run instead of showing a
 * CA-signed certificate.
 *
 * - server-attested: the client's 32-byte nonce rides in the SNI; the server answers with a fresh,
 *   short-lived, self-signed ECDSA P-256 certificate whose extension (OID of the variant) holds evidence
 *   for userData = SHA-256(certificate SPKI) and that nonce. The client validates it before sending data.
 * - client-attested: after the handshake the client sends evidence bound to the RFC 9266
 *   `EXPORTER-Channel-Binding` value and to its own certificate key; the server validates it before any
 *   HTTP byte is parsed.
 * - mutual: both.
 *
 * Servers: {@link serveAttested} (any fetch-style app, e.g. Hono) and {@link peerClaims} in handlers, or
 * {@link createAtlsServer} for raw sockets. Clients: {@link attestedFetch} (returns a standard `Response`)
 * or {@link connectAttested}. Evidence comes from `Issuer`s and is checked by `Validator`s of
 * `@asterism/attestation`, chosen by the extension OID of the variant registry.
 *
 * @module
 */
export {
  CERT_SUBJECT,
  DEFAULT_LIFETIME_MS,
  DEFAULT_MAX_VALIDITY_MS,
  DEFAULT_NOT_BEFORE_SKEW_MS,
  MAX_CERTIFICATE_BYTES,
} from "./certificate.ts";
export { type AtlsClientOptions, type AttestedConnection, connectAttested } from "./client.ts";
export { AtlsError, type AtlsErrorCode } from "./errors.ts";
export {
  DEFAULT_ATTESTATION_TIMEOUT_MS,
  DEFAULT_MAX_EVIDENCE_BYTES,
  MAX_EVIDENCE_BYTES_LIMIT,
  type PeerAttestation,
} from "./evidence.ts";
export { type AttestedFetchOptions, attestedFetch } from "./fetch.ts";
export {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type FetchApp,
  peerClaims,
  type ServeAttestedOptions,
  serveAttested,
} from "./hono.ts";
export {
  type AtlsCommonOptions,
  type AtlsMode,
  CHANNEL_BINDING_LABEL,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
} from "./options.ts";
export {
  type AtlsConnectionHandler,
  type AtlsServer,
  type AtlsServerOptions,
  createAtlsServer,
  DEFAULT_MAX_PENDING_ATTESTATIONS,
} from "./server.ts";
export { decodeSniNonce, encodeSniNonce, NONCE_BYTES, SNI_NONCE_SUFFIX } from "./sni-nonce.ts";
