/**
 * Baseline server for bench/kms.ts (not a benchmark itself): the same transport as the KMS (node:tls
 * with client certificates, @hono/node-server, Hono, the peer authenticator) answering a constant JSON
 * body, so the KMS's own cost can be told apart from TLS and HTTP. Env: CERT, KEY, CA (PEM files).
 * Prints `{"port": n}` on stdout once listening.
 */
import { readFileSync } from "node:fs";
import type { TLSSocket } from "node:tls";
import { createPeerAuthenticator, serveMtls } from "@asterism/mtls";
import { Hono } from "hono";

const env = (k: string) => readFileSync(process.env[k] ?? "", "utf8");
const caCertPem = env("CA");
const authenticate = createPeerAuthenticator({ caCertPem });
const app = new Hono<{ Bindings: { incoming: { socket: TLSSocket } } }>();
app.get("/v1/data-keys/:id", async (c) => {
  const peer = await authenticate(c.env.incoming.socket);
  if (peer.status !== "verified") return c.json({ code: "UNAUTHENTICATED" }, 401);
  return c.json({
    id: c.req.param("id"),
    length: 32,
    version: 1,
    key: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  });
});
const server = await serveMtls({ fetch: app.fetch, certPem: env("CERT"), keyPem: env("KEY"), caCertPem });
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
