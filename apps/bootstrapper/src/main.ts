#!/usr/bin/env bun
/**
 * Composition root of the bootstrapper, the first process of every node (docs/lifecycle.md):
 *
 *   PCR 15 ≠ 0 → already part of a cluster: exit 0.
 *   identity from metadata → PCR 16 event (once per boot) → state disk (mapped, then its ext4 made on
 *   first activation and mounted at ASTERISM_STATE_MOUNT) →
 *     fresh disk:       init server (control planes, server-attested aTLS) ∥ join client, one node lock
 *     initialized disk: rejoin client ∥ recovery server (control planes)
 *   → activated (PCR 15 = cluster ID) → exit 0.
 * With ASTERISM_CONTROL_PLANE_SERVICES=systemd, init also provisions the KMS and JoinService on the state
 * disk and starts their units (control-plane-services.ts).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type AtlsServer, serveAttested } from "@asterism/atls";
import { isAllZero, toHex } from "@asterism/bytes";
import { cryptsetupMapper, Luks2, noDeviceMapper, systemCryptsetup } from "@asterism/disk";
import { describeError } from "@asterism/errors";
import { createInitSecretChecker, createKubeadmInstaller, createLocalInstaller } from "@asterism/kubeadm";
import {
  createNodeIssuer,
  type NodeIdentity,
  NodeLock,
  type NodeTpm,
  openNodeTpm,
  retryWithBackoff,
} from "@asterism/lifecycle";
import { createMetadataClient } from "@asterism/metadata";
import {
  createEndpointsFile,
  createJsonLogger,
  handleServiceFlags,
  listenerUrl,
  MetricsRegistry,
} from "@asterism/service";
import * as v from "valibot";
import { createApp } from "./app.ts";
import { createManifestApplier } from "./cluster-manifests.ts";
import { ConfigSchema, ENV_HELP } from "./config.ts";
import { createControlPlaneServices, systemctlStart } from "./control-plane-services.ts";
import { ensureIdentity, readLifecyclePcrs } from "./identity.ts";
import { createNode } from "./node.ts";
import { runFiles, type Status, writeAtomic } from "./node-files.ts";
import { readNodeNameFile } from "./node-name.ts";
import { createStateDisk } from "./state-disk.ts";
import { createStateMount, systemCommands } from "./state-mount.ts";

/** Exit code when PCR 15 is set but this boot's activation failed (the unit's RestartPreventExitStatus). */
const EXIT_ACTIVATION_INCOMPLETE = 3;

/** Where a Linux VM exposes the firmware's TCG event log. */
const SECURITYFS_EVENT_LOG = "/sys/kernel/security/tpm0/binary_bios_measurements";

const info = {
  name: "bootstrapper",
  summary:
    "Measures the node's identity, then initializes a new cluster or joins one, and unlocks the state disk.",
  env: ENV_HELP,
};
const early = handleServiceFlags(info, process.argv.slice(2));
if (early !== undefined) process.exit(early);

const parsed = v.safeParse(ConfigSchema, process.env);
if (!parsed.success) {
  process.stderr.write(
    `bootstrapper: invalid configuration: ${parsed.issues.map((i) => `${v.getDotPath(i)}: ${i.message}`).join("; ")}\n`,
  );
  process.exit(2);
}
const config = parsed.output;
const logger = createJsonLogger({ level: config.ASTERISM_LOG_LEVEL, base: { service: "bootstrapper" } });
mkdirSync(config.ASTERISM_RUN_DIR, { recursive: true, mode: 0o700 });
const files = runFiles(config.ASTERISM_RUN_DIR);
const endpoints = createEndpointsFile(config.ASTERISM_ENDPOINTS_FILE);
const metrics = new MetricsRegistry();
const servers: AtlsServer[] = [];
let httpServer: ReturnType<typeof Bun.serve> | undefined;
let tpm: NodeTpm | undefined;

let current: Status = { phase: "starting" };
let statusWrites: Promise<void> = Promise.resolve();
const setStatus = (s: Status) => {
  current = s;
  logger.log("info", "bootstrapper.phase", { phase: s.phase, ...(s.error ? { error: s.error } : {}) });
  statusWrites = statusWrites
    .then(() => writeAtomic(files.status, `${JSON.stringify(s)}\n`, 0o644))
    .catch(() => {});
};

async function shutdown(code: number): Promise<never> {
  for (const s of servers) await s.close().catch(() => undefined);
  await httpServer?.stop(true);
  await statusWrites;
  await tpm?.close().catch(() => undefined);
  process.exit(code);
}
process.once("SIGTERM", () => void shutdown(143));
process.once("SIGINT", () => void shutdown(130));

if (config.ASTERISM_HTTP_LISTEN) {
  const statusApp = createApp(
    {
      node: {
        init: () => Promise.reject(new Error("unreachable")),
        recover: () => Promise.reject(new Error("unreachable")),
        recoveryChallenge: () => {
          throw new Error("unreachable");
        },
      },
      logger,
      metrics,
      status: () => current,
    },
    "status",
  );
  httpServer = Bun.serve({
    hostname: config.ASTERISM_HTTP_LISTEN.host,
    port: config.ASTERISM_HTTP_LISTEN.port,
    fetch: statusApp.fetch,
  });
  const url = listenerUrl("http", config.ASTERISM_HTTP_LISTEN.host, httpServer.port as number);
  await endpoints.set("http", url);
  logger.log("info", "bootstrapper.listening", { listener: "http", url });
}
setStatus({ phase: "starting" });

tpm = await openNodeTpm(config.ASTERISM_TPM);
const fatal = async (code: string, err: unknown): Promise<never> => {
  logger.log("error", "bootstrapper.fatal", { code, error: describeError(err) });
  setStatus({ ...current, phase: "failed", error: code });
  return shutdown(1);
};

try {
  const { pcr15, pcr16 } = await readLifecyclePcrs(tpm);
  if (!isAllZero(pcr15)) {
    if (!existsSync(files.nodeState)) {
      // PCR 15 was extended in this boot but the activation never completed (node-state.json is written
      // last, in the run directory that lives as long as the boot): a restarted bootstrapper must not
      // report success for a node whose init or join failed. Exit code 3 stops systemd's restarts.
      logger.log("error", "bootstrapper.activation_incomplete", {
        pcr15: toHex(pcr15),
        action: "reboot the node",
      });
      setStatus({ phase: "failed", error: "ACTIVATION_INCOMPLETE" });
      await shutdown(EXIT_ACTIVATION_INCOMPLETE);
    }
    // Already part of a cluster (PCR 15 holds the cluster ID until reboot): nothing to do.
    logger.log("info", "bootstrapper.already_bootstrapped", { pcr15: toHex(pcr15) });
    setStatus({ phase: "already-bootstrapped" });
    await shutdown(0);
  }
  let nodeName = config.ASTERISM_NODE_NAME;
  if (config.ASTERISM_NODE_NAME_FILE !== undefined) {
    try {
      nodeName = await readNodeNameFile(config.ASTERISM_NODE_NAME_FILE);
    } catch (err) {
      await fatal("NODE_NAME_UNREADABLE", err);
      throw err;
    }
  }
  const metadata = createMetadataClient({
    url: config.ASTERISM_METADATA_URL,
    ...(nodeName ? { nodeName } : {}),
  });
  const self = await retryWithBackoff(() => metadata.self(), {
    baseMs: 200,
    capMs: 5000,
    deadline: Date.now() + config.ASTERISM_JOIN_TIMEOUT_MS,
    onRetry: (err, attempt) =>
      logger.log("warn", "bootstrapper.metadata_retry", { attempt, error: describeError(err) }),
  });
  const identity: NodeIdentity = { name: self.name, role: self.role, ips: self.ips };
  const firmwareLogPath =
    config.ASTERISM_FIRMWARE_EVENT_LOG ??
    (existsSync(SECURITYFS_EVENT_LOG) ? SECURITYFS_EVENT_LOG : undefined);
  const firmwareLog =
    firmwareLogPath === undefined ? undefined : new Uint8Array(readFileSync(firmwareLogPath));
  let eventLog: Uint8Array;
  try {
    eventLog = await ensureIdentity(tpm, identity, pcr16, files.eventLog, firmwareLog);
  } catch (err) {
    await fatal("IDENTITY_UNPROVABLE", err);
    throw err;
  }
  logger.log("info", "bootstrapper.identity", {
    name: identity.name,
    role: identity.role,
    ips: identity.ips.join(","),
  });
  const issuer = createNodeIssuer({ tpm, readEventLog: async () => eventLog });

  const cryptsetup = systemCryptsetup();
  const useMapper =
    config.ASTERISM_DEVICE_MAPPER === "cryptsetup" ||
    (config.ASTERISM_DEVICE_MAPPER === "auto" && existsSync("/dev/mapper/control"));
  const disk = createStateDisk({
    luks: new Luks2({ cryptsetup, pbkdf: config.ASTERISM_LUKS_PBKDF }),
    mapper: useMapper ? cryptsetupMapper(cryptsetup) : noDeviceMapper,
    device: config.ASTERISM_STATE_DISK,
    bootKeyPath: files.bootKey,
    randomKey: () => crypto.getRandomValues(new Uint8Array(32)),
    logger,
    ...(config.ASTERISM_STATE_MOUNT === undefined
      ? {}
      : {
          mount: createStateMount({
            commands: systemCommands(),
            mountPoint: config.ASTERISM_STATE_MOUNT,
            logger,
          }),
        }),
  });
  const diskState = await disk.inspect();
  logger.log("info", "bootstrapper.disk", { uuid: diskState.uuid, state: diskState.kind });

  const local = config.ASTERISM_KUBERNETES_INSTALLER === "local";
  const installer = local
    ? createLocalInstaller({ logger })
    : createKubeadmInstaller({
        download: { fetch: (u, i) => fetch(u, i) },
        logger,
        configDir: files.kubeadmDir,
      });
  const pkiDir =
    config.ASTERISM_PKI_DIR ?? (local ? join(config.ASTERISM_RUN_DIR, "pki") : "/etc/kubernetes/pki");
  const controlPlaneServices =
    config.ASTERISM_CONTROL_PLANE_SERVICES === "systemd" &&
    config.ASTERISM_STATE_MOUNT !== undefined &&
    identity.role === "control-plane"
      ? createControlPlaneServices({
          stateDir: config.ASTERISM_STATE_MOUNT,
          pkiDir,
          metadataUrl: config.ASTERISM_METADATA_URL,
          startUnits: systemctlStart,
          now: () => new Date(),
          logger,
        })
      : undefined;
  const canInit =
    diskState.kind === "fresh" && identity.role === "control-plane" && self.initSecretHash !== "";
  const node = createNode({
    tpm,
    issuer,
    identity,
    lock: new NodeLock(),
    disk,
    diskState,
    installer,
    applyManifests: createManifestApplier({ variant: config.ASTERISM_VARIANT, logger }),
    metadata,
    initSecret: canInit ? createInitSecretChecker(self.initSecretHash) : undefined,
    runDir: config.ASTERISM_RUN_DIR,
    pkiDir,
    backoff: config.ASTERISM_JOIN_BACKOFF_MS,
    joinTimeoutMs: config.ASTERISM_JOIN_TIMEOUT_MS,
    logger,
    now: () => new Date(),
    onStatus: setStatus,
    ...(controlPlaneServices ? { controlPlaneServices } : {}),
  });
  const appDeps = { node, logger, metrics, status: () => current };
  const serve = async (name: "init" | "recovery", listen: { host: string; port: number }) => {
    const server = await serveAttested(createApp(appDeps, name), {
      mode: "server-attested",
      issuer,
      host: listen.host,
      port: listen.port,
      onRejected: (err) => logger.log("warn", `${name}.atls_rejected`, { code: err.code }),
    });
    servers.push(server);
    const url = listenerUrl("https", server.host, server.port);
    await endpoints.set(name, url);
    logger.log("info", "bootstrapper.listening", { listener: name, url });
    return server;
  };

  if (diskState.kind === "fresh") {
    setStatus({ phase: "waiting", role: identity.role });
    if (canInit) await serve("init", config.ASTERISM_INIT_LISTEN);
    void node.join();
  } else {
    setStatus({ phase: "rejoining", role: identity.role });
    if (identity.role === "control-plane") await serve("recovery", config.ASTERISM_RECOVERY_LISTEN);
    void node.rejoin();
  }

  let outcome: Awaited<typeof node.activated>;
  try {
    outcome = await node.activated;
  } catch (err) {
    await fatal(current.error ?? "FAILED", err);
    throw err;
  }
  logger.log("info", "bootstrapper.done", { by: outcome.by, clusterId: toHex(outcome.clusterId) });
  // Let the answer of the winning request drain before the listeners close.
  await Bun.sleep(300);
  await endpoints.remove("init");
  await endpoints.remove("recovery");
  await shutdown(0);
} catch (err) {
  await fatal("FAILED", err);
}
