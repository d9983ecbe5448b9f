import type { TLSSocket } from "node:tls";
import { parseIdentityUri } from "./identity.ts";
import * as x509 from "./x509.ts";

/**
 * Who is on the other end of a TLS connection.
 * - `none`: no client certificate was presented.
 * - `untrusted`: a certificate was presented but it is not a currently valid client certificate from
 *   our cluster CA carrying exactly one `asterism://` identity (the reason is kept for metrics/logs only).
 * - `verified`: the certificate chains to the cluster CA, is in its validity window and names `identity`.
 */
export type PeerAuth =
  | { readonly status: "none" }
  | { readonly status: "untrusted"; readonly reason: UntrustedReason }
  | { readonly status: "verified"; readonly identity: string; readonly service: string };

/** Why a presented certificate was not accepted. */
export type UntrustedReason =
  | "CHAIN"
  | "EXPIRED"
  | "NOT_YET_VALID"
  | "NOT_CLIENT_CERT"
  | "IDENTITY"
  | "PARSE";

/** Options of {@link createPeerAuthenticator}. */
export interface PeerAuthenticatorOptions {
  /** The cluster CA certificate (PEM): the only trust anchor. */
  readonly caCertPem: string;
  /** Clock used for the validity check (OpenSSL checks the real clock as well). */
  readonly now?: () => Date;
}

/** Reads the verified identity of a TLS peer; results are cached per socket (one check per connection). */
export type PeerAuthenticator = (socket: TLSSocket) => Promise<PeerAuth>;

/**
 * Build the authenticator a server uses on each request's socket. Two independent checks must agree:
 * OpenSSL's chain verification against the CA given to `tls.createServer({ ca })` (`socket.authorized`),
 * and our own: signature by the CA key, validity at `now()`, EKU clientAuth, exactly one SAN URI of the
 * form `asterism://<service>`.
 */
export function createPeerAuthenticator(options: PeerAuthenticatorOptions): PeerAuthenticator {
  const ca = new x509.X509Certificate(options.caCertPem);
  const now = options.now ?? (() => new Date());
  const cache = new WeakMap<TLSSocket, Promise<PeerAuth>>();
  return (socket) => {
    let hit = cache.get(socket);
    if (hit === undefined) {
      hit = check(socket, ca, now);
      cache.set(socket, hit);
    }
    return hit;
  };
}

async function check(socket: TLSSocket, ca: x509.X509Certificate, now: () => Date): Promise<PeerAuth> {
  const peer = socket.getPeerCertificate(true);
  if (peer === null || peer === undefined || !peer.raw || peer.raw.length === 0) return { status: "none" };
  if (!socket.authorized) return { status: "untrusted", reason: "CHAIN" };
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(new Uint8Array(peer.raw));
  } catch {
    return { status: "untrusted", reason: "PARSE" };
  }
  const t = now();
  if (t < cert.notBefore) return { status: "untrusted", reason: "NOT_YET_VALID" };
  if (t > cert.notAfter) return { status: "untrusted", reason: "EXPIRED" };
  const signedByCa =
    cert.issuer === ca.subject &&
    (await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto).catch(() => false));
  if (!signedByCa) return { status: "untrusted", reason: "CHAIN" };
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku?.usages.includes(x509.ExtendedKeyUsage.clientAuth))
    return { status: "untrusted", reason: "NOT_CLIENT_CERT" };
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = (san?.names.items ?? []).filter((n) => n.type === "url").map((n) => n.value);
  const service = uris.length === 1 ? parseIdentityUri(uris[0]!) : undefined;
  if (service === undefined) return { status: "untrusted", reason: "IDENTITY" };
  return { status: "verified", identity: uris[0]!, service };
}
