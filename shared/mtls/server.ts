import { createServer as createHttpServer } from "node:http";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { getRequestListener } from "@hono/node-server";

/** Options of {@link serveMtls}. */
export interface ServeMtlsOptions {
  /** The app's fetch handler (`app.fetch`). Hono sees `c.env.incoming.socket` as the {@link TLSSocket}. */
  readonly fetch: (
    request: Request,
    env: { incoming: unknown; outgoing: unknown },
  ) => Response | Promise<Response>;
  /** Server certificate and key (PEM), issued by the cluster CA. */
  readonly certPem: string;
  readonly keyPem: string;
  /** Trust anchor for client certificates (PEM). */
  readonly caCertPem: string;
  /** Listen address; loopback by default. */
  readonly host?: string;
  /** Port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Largest request header block (bytes). */
  readonly maxHeaderSize?: number;
  /** Idle connection timeout (ms); default 30 s. */
  readonly timeoutMs?: number;
  /** Time allowed for a TLS handshake and for a whole request (ms); default 10 s each. */
  readonly handshakeTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Concurrent connections accepted; default 1024. */
  readonly maxConnections?: number;
}

/** A running mTLS server. */
export interface MtlsServer {
  readonly port: number;
  readonly host: string;
  /** `https://<host>:<port>` */
  readonly url: string;
  /** Stop accepting, close open connections and resolve when closed. */
  close(): Promise<void>;
}

/**
 * Serve a fetch handler over TLS 1.3 with client certificates requested. `rejectUnauthorized` is false on
 * purpose: the handshake completes for callers without (valid) certificates so the app can answer them
 * with a plain 401/403 instead of a TLS alert; the app must authenticate every request through
 * {@link createPeerAuthenticator}. (Bun's `node:https` and `Bun.serve` expose no peer certificate, hence
 * node:tls plus an HTTP server fed with each socket: toolchain.md §3.)
 */
export function serveMtls(options: ServeMtlsOptions): Promise<MtlsServer> {
  const host = options.host ?? "127.0.0.1";
  const http = createHttpServer(
    { maxHeaderSize: options.maxHeaderSize ?? 16 * 1024 },
    // overrideGlobalObjects: false — by default @hono/node-server replaces globalThis.Response with its
    // own lightweight class, which breaks Bun.serve and fetch users elsewhere in the same process.
    getRequestListener(options.fetch as Parameters<typeof getRequestListener>[0], {
      overrideGlobalObjects: false,
    }),
  );
  // Bounded everything: idle sockets, slow request senders, slow handshakes, connection count.
  http.timeout = options.timeoutMs ?? 30_000;
  http.requestTimeout = options.requestTimeoutMs ?? 10_000;
  http.headersTimeout = Math.min(http.requestTimeout, 10_000);
  const sockets = new Set<TLSSocket>();
  const tls = createTlsServer(
    {
      key: options.keyPem,
      cert: options.certPem,
      ca: options.caCertPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
      handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
    },
    (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      http.emit("connection", socket);
    },
  );
  tls.maxConnections = options.maxConnections ?? 1024;
  tls.on("tlsClientError", () => {
    // A failed handshake (scanner, wrong protocol) must not take the server down.
  });
  return new Promise((resolve, reject) => {
    tls.once("error", reject);
    tls.listen(options.port ?? 0, host, () => {
      tls.off("error", reject);
      const addr = tls.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      resolve({
        port,
        host,
        url: `https://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            http.close();
            tls.close(() => done());
          }),
      });
    });
  });
}
