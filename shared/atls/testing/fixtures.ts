/**
 * Test fixtures for the aTLS tests: a Hono app that counts handler runs, raw TLS endpoints for playing
 * the attacker, and helpers to read error codes. Test-only; index.ts does not export this file.
 */

import { expect } from "bun:test";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { Hono } from "hono";
import { generateCertificateKey, type MintedCertificate, mintCertificate } from "../certificate.ts";
import { AtlsError } from "../errors.ts";
import { peerClaims, type ServeAttestedOptions, serveAttested } from "../hono.ts";
import type { AtlsServer } from "../server.ts";

/** A served app plus what the test observes. */
export interface TestApp {
  readonly server: AtlsServer;
  readonly url: string;
  /** How many times a handler ran. */
  readonly handled: () => number;
  /** Codes the server reported through onRejected, in order. */
  readonly rejected: string[];
  /** The server side of every connection a handler ran on (to read `bytesRead`). */
  readonly sockets: readonly net.Socket[];
  close(): Promise<void>;
}

/**
 * Serve a small Hono app: GET /whoami returns the peer's variant and measurements, POST /echo echoes,
 * POST /capped reads one chunk of its body, cancels the rest and answers 413.
 */
export async function startApp(options: ServeAttestedOptions): Promise<TestApp> {
  let handled = 0;
  const rejected: string[] = [];
  const app = new Hono();
  const sockets: net.Socket[] = [];
  app.use(async (c, next) => {
    handled++;
    const socket = (c.env as { incoming?: { socket?: net.Socket } } | undefined)?.incoming?.socket;
    if (socket !== undefined && !sockets.includes(socket)) sockets.push(socket);
    await next();
  });
  app.get("/whoami", (c) => {
    const peer = peerClaims(c);
    return c.json({
      variant: peer?.variant ?? null,
      measurements: peer?.claims.measurements ?? null,
      spkiDigest: peer ? Buffer.from(peer.spkiDigest).toString("hex") : null,
    });
  });
  app.post("/echo", async (c) => c.body(await c.req.arrayBuffer(), 201, { "x-echo": "1" }));
  // A capped read as the services do it (readBodyText): take the first chunk, cancel the rest, refuse.
  app.post("/capped", async (c) => {
    const reader = c.req.raw.body?.getReader();
    await reader?.read();
    await reader?.cancel();
    return c.json({ error: { code: "TOO_LARGE", message: "body too large" } }, 413);
  });
  const server = await serveAttested(app, {
    ...options,
    onRejected: (e) => {
      rejected.push(e.code);
      options.onRejected?.(e);
    },
  });
  return {
    server,
    url: `https://127.0.0.1:${server.port}`,
    handled: () => handled,
    rejected,
    sockets,
    close: () => server.close(),
  };
}

/** Await `p` and return the AtlsError's code and its cause's code ("ok" if it resolved). */
export async function failure(
  p: Promise<unknown>,
): Promise<{ code: string; cause?: string; actual?: string }> {
  try {
    await p;
    return { code: "ok" };
  } catch (e) {
    expect(e).toBeInstanceOf(AtlsError);
    const err = e as AtlsError;
    const cause = err.cause as { code?: unknown } | undefined;
    return {
      code: err.code,
      ...(cause && typeof cause.code === "string" ? { cause: cause.code } : {}),
      ...(err.actual === undefined ? {} : { actual: err.actual }),
    };
  }
}

/** Poll until `f()` holds (bounded). */
export async function eventually(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await Bun.sleep(10);
  }
}

/** A certificate minted with aTLS's own minting code but arbitrary extensions (a forging server). */
export async function forgeCertificate(
  extensions: readonly { readonly oid: string; readonly value: Uint8Array; readonly critical?: boolean }[],
  now = new Date(),
): Promise<MintedCertificate> {
  return mintCertificate(await generateCertificateKey(), { now, extensions });
}

/** A TLS 1.3 server under the attacker's control: it answers each handshake with `certFor(servername)`. */
export async function rawTlsServer(opts: {
  certFor: (servername: string) => Promise<{ certPem: string; keyPem: string }>;
  onSecure?: (socket: tls.TLSSocket) => void;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  requestCert?: boolean;
}): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({
    minVersion: opts.minVersion ?? "TLSv1.3",
    maxVersion: opts.maxVersion ?? "TLSv1.3",
    requestCert: opts.requestCert ?? false,
    rejectUnauthorized: false,
    SNICallback: (name, cb) => {
      opts.certFor(name).then(
        (c) =>
          cb(
            null,
            tls.createSecureContext({
              cert: c.certPem,
              key: c.keyPem,
              minVersion: opts.minVersion ?? "TLSv1.3",
              maxVersion: opts.maxVersion ?? "TLSv1.3",
            }),
          ),
        (e: Error) => cb(e, undefined),
      );
    },
  });
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", (_e, s) => s.destroy());
  server.on("secureConnection", (s: tls.TLSSocket) => opts.onSecure?.(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A raw TLS client (no aTLS checks) for attacks on servers. Resolves after the handshake. */
export function rawTlsClient(
  port: number,
  opts: { servername?: string; cert?: MintedCertificate; maxVersion?: tls.SecureVersion } = {},
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      ...(opts.servername === undefined ? {} : { servername: opts.servername }),
      rejectUnauthorized: false,
      maxVersion: opts.maxVersion ?? "TLSv1.3",
      ...(opts.cert === undefined ? {} : { cert: opts.cert.certPem, key: opts.cert.keyPem }),
    });
    s.once("secureConnect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Everything a socket receives until it closes (bounded wait). */
export function readUntilClose(s: net.Socket, ms = 3000): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const done = () => {
      clearTimeout(t);
      resolve(new Uint8Array(Buffer.concat(parts)));
    };
    const t = setTimeout(() => {
      s.destroy();
      done();
    }, ms);
    s.on("data", (d: Buffer) => parts.push(d));
    s.on("error", () => {});
    s.once("close", done);
  });
}
