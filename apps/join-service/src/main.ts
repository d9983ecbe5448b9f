#!/usr/bin/env bun
/**
 * Composition root of the join-service: config, cluster state, join configuration (reloaded), Kubernetes
 * PKI, KMS client (mTLS), metadata cross-check, and two listeners: aTLS for nodes (client-attested: the
 * node proves itself before any HTTP byte is parsed) and plain HTTP for health, readiness and metrics.
 */
import { readFileSync } from "node:fs";
import { serveAttested } from "@asterism/atls";
import { describeError } from "@asterism/errors";
import { type ClusterPki, loadClusterPki, readControlPlaneFiles } from "@asterism/kubeadm";
import { kubeConnectionOf, openClusterState, writeNodeRecord } from "@asterism/lifecycle";
import { createMetadataClient } from "@asterism/metadata";
import { createMtlsFetch } from "@asterism/mtls";
import { createApprovedStateLoader } from "@asterism/owner";
import {
  createEndpointsFile,
  createJsonLogger,
  handleServiceFlags,
  listenerUrl,
  MetricsRegistry,
} from "@asterism/service";
import * as v from "valibot";
import { createApp } from "./app.ts";
import { ConfigSchema, ENV_HELP } from "./config.ts";
import { createMetadataCrossCheck } from "./cross-check.ts";
import { createKmsKeys } from "./keys.ts";
import { createDiskOwnership } from "./ownership.ts";
import { createJoinConfigHolder } from "./policy.ts";
import { refusalFields } from "./refusal.ts";
import { createKubeTokenPublisher, createStateTokenPublisher } from "./tokens.ts";

const info = {
  name: "join-service",
  summary:
    "Verifies a joining node's attestation and issues its join ticket (and rejoin tickets to disk owners).",
  env: ENV_HELP,
};
const early = handleServiceFlags(info, process.argv.slice(2));
if (early !== undefined) process.exit(early);

const parsed = v.safeParse(ConfigSchema, process.env);
if (!parsed.success) {
  process.stderr.write(
    `join-service: invalid configuration: ${parsed.issues.map((i) => `${v.getDotPath(i)}: ${i.message}`).join("; ")}\n`,
  );
  process.exit(2);
}
const config = parsed.output;
const logger = createJsonLogger({ level: config.ASTERISM_LOG_LEVEL, base: { service: "join-service" } });
const now = () => new Date();
const abort = new AbortController();

const inCluster =
  config.ASTERISM_SERVICE_ACCOUNT_DIR === undefined
    ? {}
    : { serviceAccountDir: config.ASTERISM_SERVICE_ACCOUNT_DIR };
let state: ReturnType<typeof openClusterState>;
let kubeSystem: ReturnType<typeof kubeConnectionOf>;
try {
  state = openClusterState(config.ASTERISM_STATE, inCluster);
  // Bootstrap tokens go to kube-system with the same credentials (the only write outside our namespace).
  kubeSystem = kubeConnectionOf(config.ASTERISM_STATE, "kube-system", inCluster);
} catch (err) {
  process.stderr.write(`join-service: cannot open cluster state: ${describeError(err)}\n`);
  process.exit(2);
}
const metrics = new MetricsRegistry();
const ownerRefusals = metrics.counter(
  "asterism_owner_refusals_total",
  "State the owners did not approve (edited policy, tampered audit log), by code",
);
if (config.ASTERISM_OWNER_ANCHOR === undefined)
  logger.log("warn", "join.owner_approval_disabled", {
    reason:
      "ASTERISM_OWNER_ANCHOR unset: the join configuration's policy is trusted as written in cluster state",
  });
const holder = createJoinConfigHolder({
  state,
  logger,
  variants: ["qemu-vtpm"],
  reloadMs: config.ASTERISM_POLICY_RELOAD_MS,
  signal: abort.signal,
  ...(config.ASTERISM_OWNER_ANCHOR === undefined
    ? {}
    : {
        approvals: createApprovedStateLoader({
          state,
          anchor: config.ASTERISM_OWNER_ANCHOR,
          logger,
          onRefused: (e) => ownerRefusals.inc({ code: e.code }),
        }),
      }),
});

let pki: ClusterPki | undefined;
const loadPki = async () => {
  try {
    pki = await loadClusterPki(await readControlPlaneFiles(config.ASTERISM_PKI_DIR));
    logger.log("info", "join.pki_loaded", { dir: config.ASTERISM_PKI_DIR });
  } catch (err) {
    logger.log("warn", "join.pki_unavailable", { dir: config.ASTERISM_PKI_DIR, error: describeError(err) });
  }
};
await loadPki();
const pkiRetry = setInterval(() => {
  if (pki === undefined) void loadPki();
  else clearInterval(pkiRetry);
}, 2000);

const readText = (path: string) => readFileSync(path, "utf8");
const keys = createKmsKeys({
  url: config.ASTERISM_KMS_URL,
  fetch: createMtlsFetch({
    caCertPem: readText(config.ASTERISM_KMS_CA_FILE),
    certPem: readText(config.ASTERISM_KMS_CERT_FILE),
    keyPem: readText(config.ASTERISM_KMS_KEY_FILE),
  }),
});
// In a Kubernetes cluster the tokens are real kube-system Secrets; in the local cluster they live in state.
const tokens =
  kubeSystem === undefined
    ? createStateTokenPublisher(state, now, logger)
    : createKubeTokenPublisher(kubeSystem);
const purge = setInterval(() => void tokens.purgeExpired().catch(() => undefined), 60_000);

const app = createApp({
  config: holder,
  pki: () => pki,
  keys,
  ownership: createDiskOwnership(state, now),
  tokens,
  ...(config.ASTERISM_METADATA_URL
    ? { crossCheck: createMetadataCrossCheck(createMetadataClient({ url: config.ASTERISM_METADATA_URL })) }
    : {}),
  apiServerEndpoint: config.ASTERISM_API_SERVER_ENDPOINT,
  logger,
  nodeRecords: (record) => writeNodeRecord(state, record),
  now,
  metrics,
  ready: () => holder.current() !== undefined && pki !== undefined,
});

const endpoints = createEndpointsFile(config.ASTERISM_ENDPOINTS_FILE);
const rejected = metrics.counter("asterism_join_atls_rejected_total", "aTLS connections refused, by code");
const atls = await serveAttested(app, {
  mode: "client-attested",
  validators: holder.validators(),
  host: config.ASTERISM_JOIN_LISTEN.host,
  port: config.ASTERISM_JOIN_LISTEN.port,
  // One join runs one validation; a burst of nodes should queue in the kernel, not be refused as BUSY.
  maxPendingAttestations: 256,
  // No policy yet: nodes hear NOT_READY (retry), not EVIDENCE_REJECTED (a verdict they give up on).
  ready: () => holder.current() !== undefined,
  onRejected: (err) => {
    rejected.inc({ code: err.code });
    // A policy refusal names the mismatching PCRs (index, expected, got): public values, and the answer
    // to "why was this node refused" on the control plane's console.
    logger.log("warn", "join.atls_rejected", refusalFields(err));
  },
});
const joinUrl = listenerUrl("https", atls.host, atls.port);
await endpoints.set("join", joinUrl);
logger.log("info", "join-service.listening", { listener: "join", url: joinUrl });

const http = Bun.serve({
  hostname: config.ASTERISM_HTTP_LISTEN.host,
  port: config.ASTERISM_HTTP_LISTEN.port,
  fetch: app.fetch,
});
const httpUrl = listenerUrl("http", config.ASTERISM_HTTP_LISTEN.host, http.port as number);
await endpoints.set("http", httpUrl);
logger.log("info", "join-service.listening", { listener: "http", url: httpUrl });

const stop = async () => {
  abort.abort();
  clearInterval(purge);
  clearInterval(pkiRetry);
  await atls.close();
  await http.stop(true);
  state.close();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
