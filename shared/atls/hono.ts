import type { IncomingMessage, ServerResponse } from "node:http";
import http from "node:http";
import type { Socket } from "node:net";
import { getRequestListener, type HttpBindings } from "@hono/node-server";
import { AtlsError } from "./errors.ts";
import type { PeerAttestation } from "./evidence.ts";
import { positive } from "./options.ts";
import { type AtlsServer, type AtlsServerOptions, createAtlsServer } from "./server.ts";

/**
 * The HTTP adapter: serves any fetch-style app (a Hono app's `fetch`) over aTLS connections through
 * `http.createServer(getRequestListener(app.fetch))` from @hono/node-server, the arrangement measured to
 * work in Bun 1.4.5 (toolchain §3). It does not import Hono itself: apps pass `app`, handlers call
 * {@link peerClaims}.
 */

/** Anything with a fetch handler taking @hono/node-server bindings, e.g. a Hono app. */
export interface FetchApp {
  fetch(request: Request, env: HttpBindings): unknown;
}

/** Options of {@link serveAttested}. */
export interface ServeAttestedOptions extends AtlsServerOptions {
  /** Time from a proven connection (or the end of the previous response) to a complete request head. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Time from a request head to the end of its response. Default 60 s. */
  readonly requestTimeoutMs?: number;
}

/** Default header deadline (slow-loris on HTTP). Bun's node:http ignores `headersTimeout` here (measured). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Default request deadline. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** Longest a connection whose request body was left unread may take to flush its answer before it is destroyed. */
const UNREAD_BODY_GRACE_MS = 1_000;

/**
 * Verified peers by socket. Module-wide because a handler only holds its request (`c.env.incoming.socket`
 * is the very TLSSocket aTLS verified, measured in Bun 1.4.5); weak, so closed sockets leave no trace.
 */
const peers = new WeakMap<Socket, PeerAttestation>();

/**
 * The verified attestation of the client behind this request (client-attested and mutual modes), or
 * undefined when the client did not attest. Only sockets that passed every check are in the table, and
 * a socket that did not pass never reaches a handler.
 *
 * @example
 * app.post("/join", (c) => { const peer = peerClaims(c); if (!peer) throw …; peer.claims.measurements … });
 */
export function peerClaims(c: { readonly env: unknown }): PeerAttestation | undefined {
  const env = c.env as Partial<HttpBindings> | undefined;
  const socket = env?.incoming?.socket;
  return socket === undefined ? undefined : peers.get(socket);
}

/**
 * Serve `app` over attested TLS on `options.host` (default 127.0.0.1) and `options.port` (default: a
 * free one). Each connection passes the aTLS checks of `options.mode` before the HTTP parser sees a byte;
 * after that, a header deadline and a request deadline cut off slow clients.
 *
 * @example
 * const server = await serveAttested(app, { mode: "client-attested", validators: [qemuVtpm] });
 * // … server.port; await server.close();
 */
export async function serveAttested(app: FetchApp, options: ServeAttestedOptions): Promise<AtlsServer> {
  const headersTimeoutMs = positive(
    options.headersTimeoutMs,
    DEFAULT_HEADERS_TIMEOUT_MS,
    "headersTimeoutMs",
    "server",
  );
  const requestTimeoutMs = positive(
    options.requestTimeoutMs,
    DEFAULT_REQUEST_TIMEOUT_MS,
    "requestTimeoutMs",
    "server",
  );
  const onRejected = options.onRejected ?? (() => {});
  const timers = new WeakMap<Socket, ReturnType<typeof setTimeout>>();

  const arm = (socket: Socket, ms: number, code: "HEADER_TIMEOUT" | "REQUEST_TIMEOUT") => {
    clearTimeout(timers.get(socket));
    const t = setTimeout(() => {
      if (socket.destroyed) return;
      socket.destroy();
      onRejected(
        new AtlsError(
          code,
          code === "HEADER_TIMEOUT" ? "Closed a connection without a request head" : "Closed a slow request",
          {
            expected: `within ${ms} ms`,
            actual: "not done",
          },
        ),
      );
    }, ms);
    t.unref();
    timers.set(socket, t);
  };

  const httpServer = http.createServer(
    // Never let @hono/node-server replace the global Request/Response: it swaps in "lightweight"
    // classes process-wide, which breaks Bun.serve and fetch elsewhere in the same process.
    getRequestListener((request, env) => app.fetch(request, env as HttpBindings), {
      overrideGlobalObjects: false,
    }),
  );
  httpServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    arm(socket, requestTimeoutMs, "REQUEST_TIMEOUT");
    let done = false;
    const next = () => {
      if (done || socket.destroyed) return;
      done = true;
      // The answer went out before the request body was read to its end (a capped read refused it, or
      // the route never read it): close instead of parsing the rest. Bun's node:http keeps whatever
      // body bytes nobody consumes, so a client streaming a chunked body after its refusal would make
      // the server buffer all of it (tests/load/bootstrapper-abuse.test.ts).
      if (!req.complete) {
        socket.pause();
        socket.end(() => socket.destroy());
        setTimeout(() => socket.destroy(), UNREAD_BODY_GRACE_MS).unref();
        return;
      }
      arm(socket, headersTimeoutMs, "HEADER_TIMEOUT");
    };
    res.once("finish", next);
    res.once("close", next);
  });

  const server = await createAtlsServer(options, (socket, peer) => {
    if (peer !== undefined) peers.set(socket, peer);
    socket.once("close", () => clearTimeout(timers.get(socket)));
    arm(socket, headersTimeoutMs, "HEADER_TIMEOUT");
    httpServer.emit("connection", socket);
    socket.resume();
  });
  return {
    host: server.host,
    port: server.port,
    close: async () => {
      await server.close();
      httpServer.close();
    },
  };
}
