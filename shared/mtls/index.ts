/**
 * Mutual TLS between Asterism services: a cluster CA created at init (ECDSA P-256), service identity
 * certificates whose SAN URI names the service (`asterism://join-service`), a node:tls server that hands
 * each verified peer to a Hono app, a peer authenticator that re-checks every client certificate with
 * a second, independent parser (`@asterism/pki`), and a Bun `fetch` client that presents a certificate.
 *
 * @example
 * const ca = await createClusterCa({ now: new Date() });
 * const kms = await issueServiceCertificate(ca, { service: "kms", usage: "server", ipAddresses: ["127.0.0.1"], now });
 * const join = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
 * const server = await serveMtls({ fetch: app.fetch, certPem: kms.certPem, keyPem: kms.keyPem, caCertPem: ca.certPem });
 * const res = await createMtlsFetch({ caCertPem: ca.certPem, ...join })(`${server.url}/healthz`);
 *
 * @module
 */
export {
  type ClusterCa,
  type CreateCaOptions,
  createClusterCa,
  exportClusterCa,
  type IssueOptions,
  issueServiceCertificate,
  loadClusterCa,
  MAX_VALIDITY_DAYS,
  type ServiceCredentials,
} from "./ca.ts";
export { createMtlsFetch, type MtlsClientOptions } from "./client.ts";
export { MtlsError, type MtlsErrorCode } from "./errors.ts";
export {
  IDENTITY_SCHEME,
  identityUri,
  parseIdentityUri,
  SERVICE_IDENTITIES,
  SERVICE_NAME_RE,
} from "./identity.ts";
export {
  createPeerAuthenticator,
  type PeerAuth,
  type PeerAuthenticator,
  type PeerAuthenticatorOptions,
  type UntrustedReason,
} from "./peer.ts";
export { type MtlsServer, type ServeMtlsOptions, serveMtls } from "./server.ts";
export { createServicePki, SERVICE_PKI_KMS_ADDRESS, type ServicePki } from "./service-pki.ts";
