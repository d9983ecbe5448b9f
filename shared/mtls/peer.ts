import type { TLSSocket } from "node:tls";
import { utf8 } from "@asterism/bytes";
import {
  type Certificate,
  certificatesFromPemOrDer,
  checkValidity,
  PkiError,
  parseCertificate,
  verifyIssuedBy,
} from "@asterism/pki";
import { extendedKeyUsages, OID_KP_CLIENT_AUTH, sanUris } from "./extensions.ts";
import { parseIdentityUri } from "./identity.ts";

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
 * Build the authenticator a server uses on each request's socket. Two independent implementations must
 * agree: the TLS library's chain verification against the CA given to `tls.createServer({ ca })`
 * (`socket.authorized`), and our own strict DER parser (`@asterism/pki`): issuer name and CA signature,
 * validity at `now()`, EKU clientAuth, exactly one SAN URI of the form `asterism://<service>`.
 */
export function createPeerAuthenticator(options: PeerAuthenticatorOptions): PeerAuthenticator {
  const [caDer] = certificatesFromPemOrDer(utf8(options.caCertPem));
  if (caDer === undefined) throw new PkiError("PEM_INVALID", "Cannot read cluster CA certificate");
  const ca = parseCertificate(caDer);
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

async function check(socket: TLSSocket, ca: Certificate, now: () => Date): Promise<PeerAuth> {
  const peer = socket.getPeerCertificate(true);
  if (peer === null || peer === undefined || !peer.raw || peer.raw.length === 0) return { status: "none" };
  if (!socket.authorized) return { status: "untrusted", reason: "CHAIN" };
  let cert: Certificate;
  try {
    cert = parseCertificate(new Uint8Array(peer.raw));
  } catch {
    return { status: "untrusted", reason: "PARSE" };
  }
  try {
    checkValidity(cert, now());
    await verifyIssuedBy(cert, ca);
  } catch (err) {
    if (err instanceof PkiError && (err.code === "EXPIRED" || err.code === "NOT_YET_VALID")) {
      return { status: "untrusted", reason: err.code };
    }
    return { status: "untrusted", reason: "CHAIN" };
  }
  try {
    if (!extendedKeyUsages(cert).includes(OID_KP_CLIENT_AUTH))
      return { status: "untrusted", reason: "NOT_CLIENT_CERT" };
    const uris = sanUris(cert);
    const service = uris.length === 1 ? parseIdentityUri(uris[0]!) : undefined;
    if (service === undefined) return { status: "untrusted", reason: "IDENTITY" };
    return { status: "verified", identity: uris[0]!, service };
  } catch {
    return { status: "untrusted", reason: "PARSE" };
  }
}
