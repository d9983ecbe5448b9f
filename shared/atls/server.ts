import type { AddressInfo, Socket } from "node:net";
import tls from "node:tls";
import { checkPeerCertificate, generateCertificateKey, mintCertificate } from "./certificate.ts";
import { AtlsError } from "./errors.ts";
import {
  ATTESTATION_OIDS,
  checkDocument,
  issueEvidence,
  oidOfVariant,
  type PeerAttestation,
  validateEvidence,
  validatorsByOid,
} from "./evidence.ts";
import {
  ATLS_FRAME_TYPE,
  decodeClientEvidence,
  encodeVerdict,
  maxEvidenceFrameBody,
  readFrame,
} from "./frames.ts";
import {
  type AtlsCommonOptions,
  channelBinding,
  clientAttests,
  positive,
  type ResolvedCommon,
  resolveCommon,
  tlsErrorCode,
} from "./options.ts";
import { decodeSniNonce } from "./sni-nonce.ts";

/** How long a rejected client's socket stays open for its verdict to drain. */
const VERDICT_GRACE_MS = 1_000;

/** Default cap on handshakes waiting for evidence at once (each costs a TPM quote or a validator run). */
export const DEFAULT_MAX_PENDING_ATTESTATIONS = 16;

/** Options of {@link createAtlsServer}. */
export interface AtlsServerOptions extends AtlsCommonOptions {
  /** Listen address. Default 127.0.0.1. */
  readonly host?: string;
  /** Listen port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Cap on concurrent evidence issuances and client validations; the excess is refused (`BUSY`). */
  readonly maxPendingAttestations?: number;
  /** Told about every refused connection, with its code (for logs, metrics and tests). */
  readonly onRejected?: (err: AtlsError) => void;
  /**
   * Whether client evidence can be judged now (client-attested and mutual modes). While it returns false,
   * a client's evidence is refused with `NOT_READY` before any validator runs, so the client can tell "come
   * back later" (no policy loaded yet) from a verdict on its evidence. Default: always ready.
   */
  readonly ready?: () => boolean;
}

/** A running aTLS listener. */
export interface AtlsServer {
  readonly host: string;
  readonly port: number;
  /** Stop accepting and destroy every open connection. */
  close(): Promise<void>;
}

/** Called once per connection that passed every check; `peer` is set when the client attested. */
export type AtlsConnectionHandler = (socket: tls.TLSSocket, peer: PeerAttestation | undefined) => void;

/**
 * Listen for attested TLS 1.3 connections. Every handshake gets a fresh P-256 key and certificate minted
 * in the `SNICallback`; in server-attested and mutual modes the certificate carries evidence for the
 * client's SNI nonce. In client-attested and mutual modes the client must send its evidence frame, bound
 * to the RFC 9266 exporter, and the server checks it before `onConnection` ever sees the socket: an
 * unproven connection never reaches HTTP. Deadlines bound the handshake and the evidence exchange.
 *
 * Caveat: the SNI carries the nonce, so the client's real host name is not sent. aTLS peers are
 * addressed by IP and authenticated by evidence, never by name. See docs/atls.md §2–§4.
 *
 * @example
 * const server = await createAtlsServer({ mode: "mutual", issuer, validators }, (socket, peer) => {
 *   // socket: a verified TLS 1.3 socket; peer: the client's verified attestation
 * });
 * await server.close();
 */
export async function createAtlsServer(
  options: AtlsServerOptions,
  onConnection: AtlsConnectionHandler,
): Promise<AtlsServer> {
  const common = resolveCommon(options, "server");
  const validators = validatorsByOid(common.validators);
  const maxPending = positive(
    options.maxPendingAttestations,
    DEFAULT_MAX_PENDING_ATTESTATIONS,
    "maxPendingAttestations",
    "server",
  );
  const host = options.host ?? "127.0.0.1";
  const onRejected = options.onRejected ?? (() => {});
  const ready = options.ready ?? (() => true);
  const sockets = new Set<Socket>();
  /** Sockets already reported, so one failure yields one report. */
  const reported = new WeakSet<Socket>();
  /** Handshake deadline per socket, cleared when the handshake completes (Bun hands the same object). */
  const handshakeTimers = new WeakMap<Socket, ReturnType<typeof setTimeout>>();
  let pending = 0;

  const reject = (socket: Socket | undefined, err: AtlsError) => {
    if (socket !== undefined) {
      if (reported.has(socket)) return;
      reported.add(socket);
      // A rejected client has been sent its verdict with end(); give it a moment to arrive.
      if (socket.writableEnded && !socket.destroyed)
        setTimeout(() => socket.destroy(), VERDICT_GRACE_MS).unref();
      else socket.destroy();
    }
    onRejected(err);
  };

  const contextFor = async (servername: string): Promise<tls.SecureContext> => {
    const key = await generateCertificateKey();
    const extensions = [];
    if (common.issuer !== undefined) {
      // Decode before taking a slot: malformed names cost nothing.
      const nonce = decodeSniNonce(servername);
      if (pending >= maxPending)
        throw new AtlsError("BUSY", "Cannot attest this handshake", {
          expected: `fewer than ${maxPending} attestations in flight`,
          actual: `${pending}`,
        });
      pending++;
      try {
        const document = await issueEvidence(
          common.issuer,
          key.spkiDigest,
          nonce,
          common.attestationTimeoutMs,
        );
        extensions.push({ oid: oidOfVariant(common.issuer.variant), value: document });
      } finally {
        pending--;
      }
    }
    const minted = await mintCertificate(key, {
      now: common.now(),
      lifetimeMs: common.certificateLifetimeMs,
      notBeforeSkewMs: common.notBeforeSkewMs,
      extensions,
    });
    return tls.createSecureContext({
      key: minted.keyPem,
      cert: minted.certPem,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
    });
  };

  const server = tls.createServer({
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    ALPNProtocols: ["http/1.1"],
    // Client certificates are self-signed by design: their trust comes from the evidence frame.
    requestCert: clientAttests(common.mode),
    rejectUnauthorized: false,
    // Our own timer (below) destroys the socket; Bun only emits an error when this one fires.
    handshakeTimeout: common.handshakeTimeoutMs,
    SNICallback: (servername, cb) => {
      contextFor(servername).then(
        (ctx) => cb(null, ctx),
        (err: unknown) => {
          const e =
            err instanceof AtlsError
              ? err
              : new AtlsError("HANDSHAKE_FAILED", "Cannot mint the certificate for this handshake", {
                  cause: err,
                });
          onRejected(e);
          cb(e, undefined);
        },
      );
    },
  });

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    // Resets surface as "close"; without a listener an "error" event would be an uncaught exception.
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    // The handshake deadline runs from TCP accept: a peer dribbling a ClientHello byte by byte is cut off.
    const timer = setTimeout(
      () =>
        reject(
          socket,
          new AtlsError("HANDSHAKE_TIMEOUT", "Closed a connection that did not finish the TLS handshake", {
            expected: `a handshake within ${common.handshakeTimeoutMs} ms`,
            actual: "none",
          }),
        ),
      common.handshakeTimeoutMs,
    );
    handshakeTimers.set(socket, timer);
    socket.once("close", () => clearTimeout(timer));
  });

  server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
    // An SNICallback refusal was reported with its own code already; BoringSSL's echo of it is noise.
    if (err instanceof AtlsError) {
      reported.add(socket);
      socket.destroy();
      return;
    }
    reject(
      socket,
      new AtlsError(tlsErrorCode(err), "Refused a TLS handshake", {
        expected: "a TLS 1.3 handshake",
        actual: typeof err === "object" && err !== null && "code" in err ? String(err.code) : err.name,
        cause: err,
      }),
    );
  });

  server.on("secureConnection", (socket: tls.TLSSocket) => {
    clearTimeout(handshakeTimers.get(socket));
    acceptConnection(
      socket,
      common,
      validators,
      () => pending,
      (d) => {
        pending += d;
      },
      maxPending,
      ready,
    ).then(
      (peer) => {
        if (!socket.destroyed) onConnection(socket, peer);
      },
      (err: unknown) =>
        reject(
          socket,
          err instanceof AtlsError
            ? err
            : new AtlsError("HANDSHAKE_FAILED", "Cannot accept the connection", { cause: err }),
        ),
    );
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", rejectListen);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Post-handshake checks of one connection. TLS 1.3 is required again (defence in depth: the context
 * already pins it). When the client must attest: its certificate is checked, its evidence frame read
 * within the deadline, validated against the exporter value and its certificate key, and a verdict sent.
 */
async function acceptConnection(
  socket: tls.TLSSocket,
  common: ResolvedCommon,
  validators: ReturnType<typeof validatorsByOid>,
  pending: () => number,
  addPending: (d: number) => void,
  maxPending: number,
  ready: () => boolean,
): Promise<PeerAttestation | undefined> {
  const protocol = socket.getProtocol();
  if (protocol !== "TLSv1.3")
    throw new AtlsError("TLS_VERSION_REJECTED", "Refused a TLS connection", {
      expected: "TLSv1.3",
      actual: String(protocol),
    });
  if (!clientAttests(common.mode)) return undefined;
  socket.pause();
  try {
    const raw = socket.getPeerCertificate(true)?.raw;
    if (raw === undefined || raw.length === 0)
      throw new AtlsError("CERT_MISSING", "Cannot attest the client", {
        expected: "a client certificate (its key is what the evidence vouches for)",
        actual: "none",
      });
    const cert = await checkPeerCertificate(new Uint8Array(raw), {
      now: common.now(),
      maxValidityMs: common.maxCertificateValidityMs,
      understoodOids: ATTESTATION_OIDS,
    });
    const body = await readFrame(socket, {
      type: ATLS_FRAME_TYPE.CLIENT_EVIDENCE,
      maxBody: maxEvidenceFrameBody(common.maxEvidenceBytes),
      timeoutMs: common.attestationTimeoutMs,
      tooLargeCode: "EVIDENCE_TOO_LARGE",
      what: "client evidence",
      trailing: "reject",
    });
    const frame = decodeClientEvidence(body);
    const { validator, document } = checkDocument(
      frame.oid,
      frame.document,
      validators,
      common.maxEvidenceBytes,
    );
    if (!ready())
      throw new AtlsError("NOT_READY", "Cannot judge the client's evidence yet", {
        expected: "a server ready to validate (its policy loaded)",
        actual: "not ready",
      });
    if (pending() >= maxPending)
      throw new AtlsError("BUSY", "Cannot validate the client's evidence now", {
        expected: `fewer than ${maxPending} attestations in flight`,
        actual: `${pending()}`,
      });
    const exporter = channelBinding(socket);
    addPending(1);
    let peer: PeerAttestation;
    try {
      peer = await validateEvidence(
        validator,
        document,
        exporter,
        cert.spkiDigest,
        common.attestationTimeoutMs,
      );
    } finally {
      addPending(-1);
    }
    await writeAll(socket, encodeVerdict({ accepted: true }));
    return peer;
  } catch (err) {
    if (err instanceof AtlsError && !socket.destroyed && socket.writable) {
      // Tell the client why (codes are not secret), then close.
      socket.end(encodeVerdict({ accepted: false, code: err.code }));
    }
    throw err;
  }
}

function writeAll(socket: tls.TLSSocket, bytes: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.write(bytes, (err) => (err ? reject(err) : resolve()));
  });
}
