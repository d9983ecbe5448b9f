import tls from "node:tls";
import { checkPeerCertificate, generateCertificateKey, mintCertificate } from "./certificate.ts";
import { AtlsError } from "./errors.ts";
import {
  ATTESTATION_OIDS,
  issueEvidence,
  oidOfVariant,
  type PeerAttestation,
  selectEvidence,
  validateEvidence,
  validatorsByOid,
} from "./evidence.ts";
import { ATLS_FRAME_TYPE, decodeVerdict, encodeClientEvidence, readFrame } from "./frames.ts";
import {
  type AtlsCommonOptions,
  channelBinding,
  type ResolvedCommon,
  resolveCommon,
  tlsErrorCode,
} from "./options.ts";
import { encodeSniNonce, NONCE_BYTES } from "./sni-nonce.ts";

/** Options of {@link connectAttested}. */
export interface AtlsClientOptions extends AtlsCommonOptions {
  /** Source of the 32-byte SNI nonce (injected in tests). Default `crypto.getRandomValues`. */
  readonly randomBytes?: (n: number) => Uint8Array;
}

/** A connection whose peer passed every check of its mode, and the peer's verified evidence. */
export interface AttestedConnection {
  readonly socket: tls.TLSSocket;
  /** The server's attestation (server-attested and mutual modes), else undefined. */
  readonly peer: PeerAttestation | undefined;
}

/** Largest verdict body: status(1) + code length(1) + 64 characters. */
const MAX_VERDICT_BODY = 66;

/**
 * Open an attested TLS 1.3 connection to `host:port` and run every check of the mode before returning,
 * so no application byte leaves before the server is proven (and, when the client attests, before the
 * server has accepted the client's evidence).
 *
 * - server-attested / mutual: a fresh 32-byte nonce rides in the SNI; the server's certificate must be
 *   self-signed, within its (short) validity, and carry exactly one attestation extension that a
 *   configured validator accepts for that nonce and for SHA-256 of the certificate's SPKI.
 * - client-attested / mutual: the client presents a fresh self-signed certificate, then sends evidence
 *   with nonce = RFC 9266 exporter value and userData = SHA-256(its SPKI), and waits for the verdict.
 *
 * Throws {@link AtlsError}; the socket is destroyed on any failure.
 *
 * @example
 * const { socket, peer } = await connectAttested("127.0.0.1", 9000, { mode: "server-attested", validators });
 */
export async function connectAttested(
  host: string,
  port: number,
  options: AtlsClientOptions,
): Promise<AttestedConnection> {
  const common = resolveCommon(options, "client");
  const validators = validatorsByOid(common.validators);
  const nonce = (options.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n))))(NONCE_BYTES);
  const own = common.issuer === undefined ? undefined : await generateCertificateKey();
  const ownCert =
    own === undefined
      ? undefined
      : await mintCertificate(own, {
          now: common.now(),
          lifetimeMs: common.certificateLifetimeMs,
          notBeforeSkewMs: common.notBeforeSkewMs,
        });
  const socket = await handshake(host, port, encodeSniNonce(nonce), common, ownCert);
  try {
    const protocol = socket.getProtocol();
    if (protocol !== "TLSv1.3")
      throw new AtlsError("TLS_VERSION_REJECTED", "Refused the server's TLS version", {
        expected: "TLSv1.3",
        actual: String(protocol),
      });
    const raw = socket.getPeerCertificate(true)?.raw;
    if (raw === undefined || raw.length === 0)
      throw new AtlsError("CERT_MISSING", "Cannot verify the server", {
        expected: "a certificate",
        actual: "none",
      });
    const cert = await checkPeerCertificate(new Uint8Array(raw), {
      now: common.now(),
      maxValidityMs: common.maxCertificateValidityMs,
      understoodOids: ATTESTATION_OIDS,
    });
    let peer: PeerAttestation | undefined;
    if (validators.size > 0) {
      const { validator, document } = selectEvidence(cert.extensions, validators, common.maxEvidenceBytes);
      peer = await validateEvidence(validator, document, nonce, cert.spkiDigest, common.attestationTimeoutMs);
    }
    if (common.issuer !== undefined && own !== undefined) {
      const exporter = channelBinding(socket);
      const document = await issueEvidence(
        common.issuer,
        own.spkiDigest,
        exporter,
        common.attestationTimeoutMs,
      );
      socket.write(encodeClientEvidence(oidOfVariant(common.issuer.variant), document));
      const verdict = decodeVerdict(
        await readFrame(socket, {
          type: ATLS_FRAME_TYPE.SERVER_VERDICT,
          maxBody: MAX_VERDICT_BODY,
          timeoutMs: common.attestationTimeoutMs,
          tooLargeCode: "PROTOCOL_VIOLATION",
          what: "server verdict",
          trailing: "keep",
        }),
      );
      if (!verdict.accepted)
        throw new AtlsError("PEER_REJECTED", "The server refused our attestation evidence", {
          expected: "an accepting verdict",
          actual: verdict.code,
        });
    }
    return { socket, peer };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function handshake(
  host: string,
  port: number,
  servername: string,
  common: ResolvedCommon,
  ownCert: { certPem: string; keyPem: string } | undefined,
): Promise<tls.TLSSocket> {
  return new Promise<tls.TLSSocket>((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      servername,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ALPNProtocols: ["http/1.1"],
      // No CA decides anything here: the certificate is checked by checkPeerCertificate and its evidence.
      rejectUnauthorized: false,
      ...(ownCert === undefined ? {} : { cert: ownCert.certPem, key: ownCert.keyPem }),
    });
    const done = (err: AtlsError | undefined) => {
      clearTimeout(timer);
      socket.off("secureConnect", onSecure);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (err === undefined) {
        // Later failures surface through whoever reads the socket next (frame reader, HTTP client); this
        // listener only keeps a reset between those phases from becoming an uncaught exception.
        socket.on("error", () => {});
        return resolve(socket);
      }
      socket.destroy();
      reject(err);
    };
    const onSecure = () => done(undefined);
    const onError = (cause: Error) =>
      done(
        new AtlsError(tlsErrorCode(cause), "TLS handshake with the server failed", {
          expected: "a TLS 1.3 handshake",
          actual: "code" in cause ? String(cause.code) : cause.name,
          cause,
        }),
      );
    const onClose = () =>
      done(new AtlsError("HANDSHAKE_FAILED", "The server closed the connection during the handshake"));
    const timer = setTimeout(
      () =>
        done(
          new AtlsError("HANDSHAKE_TIMEOUT", "Gave up on the TLS handshake", {
            expected: `a handshake within ${common.handshakeTimeoutMs} ms`,
            actual: "none",
          }),
        ),
      common.handshakeTimeoutMs,
    );
    socket.once("secureConnect", onSecure);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}
