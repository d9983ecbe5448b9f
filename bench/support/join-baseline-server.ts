/**
 * Baseline server for bench/join.ts (not a benchmark itself): the JoinService's ticket flow WITHOUT
 * attestation — the node's identity is taken from the request, as Constellation did — over TLS 1.3 with
 * client certificates (node:tls + @hono/node-server, as the KMS). It runs the very same `issueJoinTicket`
 * (disk claim in SQLite, keys from the KMS over mTLS, kubelet certificate, bootstrap-token Secret), so the
 * difference to the real JoinService is the attestation alone.
 *
 * Env: STATE (sqlite path), PKI_DIR, KMS_URL, CA, CERT, KEY (PEM files: the service CA and this server's
 * certificate, also used as the KMS client identity). Prints `{"port": n}` once listening.
 */
import { readFileSync } from "node:fs";
import { type JoinRequest, JoinRequestSchema } from "@asterism/api";
import type { PeerAttestation } from "@asterism/atls";
import { loadClusterPki, readControlPlaneFiles } from "@asterism/kubeadm";
import { createMtlsFetch, serveMtls } from "@asterism/mtls";
import { createJsonLogger } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import { Hono } from "hono";
import * as v from "valibot";
import { createKmsKeys } from "../../apps/join-service/src/keys.ts";
import { createDiskOwnership } from "../../apps/join-service/src/ownership.ts";
import { issueJoinTicket } from "../../apps/join-service/src/tickets.ts";
import { createStateTokenPublisher } from "../../apps/join-service/src/tokens.ts";

const env = (k: string) => process.env[k] ?? "";
const pem = (k: string) => readFileSync(env(k), "utf8");
const state = openSqliteState(env("STATE"));
const logger = createJsonLogger({ level: "error" });
const pki = await loadClusterPki(await readControlPlaneFiles(env("PKI_DIR")));
const now = () => new Date();
const salt = new Uint8Array(32).fill(7);
const deps = {
  config: {
    require: () => ({
      policy: { measurements: new Map() },
      measurementSalt: salt,
      kubernetesVersion: "v1.31.13",
      components: [],
      validators: new Map(),
      revokedNodes: new Set<string>(),
    }),
  },
  pki: () => pki,
  keys: createKmsKeys({
    url: env("KMS_URL"),
    fetch: createMtlsFetch({ caCertPem: pem("CA"), certPem: pem("CERT"), keyPem: pem("KEY") }),
  }),
  ownership: createDiskOwnership(state, now),
  tokens: createStateTokenPublisher(state, now, logger),
  apiServerEndpoint: "127.0.0.1:6443",
  logger,
};

/** The identity a node merely claims (header), dressed as claims: exactly what attestation replaces. */
function claimed(name: string): PeerAttestation {
  return {
    variant: "qemu-vtpm",
    spkiDigest: new Uint8Array(32),
    nonce: new Uint8Array(32),
    claims: {
      variant: "qemu-vtpm",
      userData: new Uint8Array(32),
      measurements: {},
      warnings: [],
      details: { akSpki: "00", nodeIdentity: { name, role: "worker", ips: ["127.0.0.1"] } },
    },
  };
}

const app = new Hono();
app.post("/v1/join", async (c) => {
  const req: JoinRequest = v.parse(JoinRequestSchema, await c.req.json());
  try {
    return c.json(await issueJoinTicket(deps, claimed(c.req.header("x-node-name") ?? ""), req));
  } catch (err) {
    return c.json(
      { error: { code: (err as { code?: string }).code ?? "INTERNAL", message: "refused" } },
      403,
    );
  }
});
const server = await serveMtls({
  fetch: app.fetch,
  certPem: pem("CERT"),
  keyPem: pem("KEY"),
  caCertPem: pem("CA"),
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.once("SIGTERM", () => void server.close().then(() => process.exit(0)));
