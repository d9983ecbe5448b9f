/**
 * One local-cluster node: a directory with the node's own copy of the boot components, its swtpm, a
 * state-disk image, and the compiled bootstrapper and VerificationService running against them.
 *
 * ```
 * <mini>/nodes/<name>/
 *   boot/                     the node's boot components (copied from the workspace's; "the VM disk")
 *   tpm/                      swtpm state          swtpm.log
 *   firmware-eventlog.bin     what the simulated firmware measured (TCG crypto-agile log, SHA-256)
 *   state-disk.img            sparse file; the bootstrapper formats it (LUKS2) on first boot
 *   run/                      ASTERISM_RUN_DIR: eventlog.bin, status.json, node-state.json, pki/ …
 *   bootstrapper.log  verification-service.log  *.endpoints.json
 * ```
 */
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { openSwtpm } from "@asterism/tpm";
import { copyBootComponents, readBootComponents } from "../boot/components.ts";
import { runSimulatedFirmware } from "../boot/firmware.ts";
import type { BootComponents } from "../config/schema.ts";
import { readEndpointsFile, waitForEndpoint } from "./endpoints.ts";
import { MiniError } from "./errors.ts";
import { LOOPBACK, waitFor } from "./ports.ts";
import { type DaemonRecord, isRunning, logTail, startDaemon, stopDaemon } from "./processes.ts";
import { startSwtpmDaemon } from "./swtpm.ts";

/** A node to create. */
export interface NodePlan {
  readonly name: string;
  readonly role: "control-plane" | "worker";
  readonly dir: string;
}

/** What every node shares. */
export interface NodeEnvironment {
  readonly bootstrapper: string;
  readonly verificationService: string;
  readonly metadataUrl: string;
  readonly variant: string;
  /** The workspace's declared boot components and the directory their paths are relative to. */
  readonly bootComponents: BootComponents;
  readonly bootBaseDir: string;
  readonly stateDiskMiB: number;
  /** `pbkdf2` (fast, local cluster) or `argon2id`. */
  readonly diskPbkdf: "pbkdf2" | "argon2id";
}

/** A booted node: its TPM and files. Processes are added as they start. */
export interface BootedNode extends NodePlan {
  readonly swtpm: DaemonRecord;
  readonly tpmPort: number;
  readonly runDir: string;
  readonly bootDir: string;
}

/** The bootstrapper's `status.json` (docs/lifecycle.md §5). */
export interface NodeStatus {
  readonly phase: string;
  readonly role?: string;
  readonly clusterId?: string;
  readonly error?: string;
}

/** Phases after which the bootstrapper exits. */
export const FINAL_PHASES = new Set(["done", "already-bootstrapped", "failed"]);

/** PBKDF2 iterations for the local cluster's LUKS keyslots: fast on purpose (documented in the README). */
export const LOCAL_PBKDF2_ITERATIONS = 1000;

/**
 * Power the node's TPM on and play the simulated firmware: the node's own boot components are measured
 * into PCRs 0–14 and logged. Used at first boot and at every reboot (CMD_INIT resets the PCRs).
 */
export async function measureBoot(node: Pick<BootedNode, "tpmPort" | "bootDir" | "dir">): Promise<void> {
  const components = readBootComponents(node.bootDir, {
    firmware: "firmware",
    kernel: "kernel",
    initrd: "initrd",
    cmdline: "cmdline",
  });
  const tpm = await openSwtpm({ host: LOOPBACK, port: node.tpmPort, ctrlPort: node.tpmPort + 1 });
  try {
    const log = await runSimulatedFirmware(tpm, components);
    writeFileSync(join(node.dir, "firmware-eventlog.bin"), log);
  } finally {
    await tpm.close();
  }
}

/** Create the node's files, start its swtpm and boot it. */
export async function bootNode(plan: NodePlan, env: NodeEnvironment): Promise<BootedNode> {
  mkdirSync(plan.dir, { recursive: true, mode: 0o700 });
  const bootDir = join(plan.dir, "boot");
  copyBootComponents(env.bootBaseDir, env.bootComponents, bootDir);
  const disk = join(plan.dir, "state-disk.img");
  const fd = openSync(disk, "w", 0o600);
  try {
    ftruncateSync(fd, env.stateDiskMiB * 1024 * 1024); // sparse: no blocks until written
  } finally {
    closeSync(fd);
  }
  const runDir = join(plan.dir, "run");
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const sw = await startSwtpmDaemon(plan.dir);
  const node: BootedNode = { ...plan, swtpm: sw.record, tpmPort: sw.port, runDir, bootDir };
  try {
    await measureBoot(node);
  } catch (err) {
    await stopDaemon(sw.record, 1000);
    throw err;
  }
  return node;
}

const endpointsFile = (node: Pick<BootedNode, "dir">, service: string) =>
  join(node.dir, `${service}.endpoints.json`);

/** Start the node's bootstrapper (docs/lifecycle.md §5 lists every variable). */
export function startBootstrapper(node: BootedNode, env: NodeEnvironment): DaemonRecord {
  const file = endpointsFile(node, "bootstrapper");
  rmSync(file, { force: true });
  return startDaemon({
    name: "bootstrapper",
    argv: [env.bootstrapper],
    env: {
      ASTERISM_TPM: `swtpm:${LOOPBACK}:${node.tpmPort}`,
      ASTERISM_VARIANT: env.variant,
      ASTERISM_METADATA_URL: env.metadataUrl,
      ASTERISM_NODE_NAME: node.name,
      ASTERISM_STATE_DISK: join(node.dir, "state-disk.img"),
      ASTERISM_RUN_DIR: node.runDir,
      ASTERISM_INIT_LISTEN: `${LOOPBACK}:0`,
      ASTERISM_RECOVERY_LISTEN: `${LOOPBACK}:0`,
      ASTERISM_HTTP_LISTEN: `${LOOPBACK}:0`,
      ASTERISM_ENDPOINTS_FILE: file,
      // No Kubernetes binaries exist for this machine: the bootstrapper installs nothing and says so.
      ASTERISM_KUBERNETES_INSTALLER: "local",
      ASTERISM_LUKS_PBKDF: env.diskPbkdf === "pbkdf2" ? `pbkdf2:${LOCAL_PBKDF2_ITERATIONS}` : "argon2id",
      // The host kernel has no device-mapper: format and key checks are real, the mapping is skipped.
      ASTERISM_DEVICE_MAPPER: "none",
      ASTERISM_JOIN_BACKOFF_MS: "250,2000",
      ASTERISM_FIRMWARE_EVENT_LOG: join(node.dir, "firmware-eventlog.bin"),
      ASTERISM_LOG_LEVEL: "info",
    },
    log: join(node.dir, "bootstrapper.log"),
    cwd: node.dir,
  });
}

/** The announced endpoints of the node's bootstrapper so far. */
export function bootstrapperEndpoints(node: Pick<BootedNode, "dir">): Record<string, string> {
  return readEndpointsFile(endpointsFile(node, "bootstrapper"));
}

/** Wait for the bootstrapper to announce `key` (`init`, `recovery`, `http`). */
export function waitForBootstrapperEndpoint(
  node: BootedNode,
  r: DaemonRecord,
  key: string,
  timeoutMs: number,
) {
  return waitForEndpoint(r, endpointsFile(node, "bootstrapper"), key, timeoutMs);
}

/** The bootstrapper's status.json, if written yet. */
export function readNodeStatus(runDir: string): NodeStatus | undefined {
  try {
    const v = JSON.parse(readFileSync(join(runDir, "status.json"), "utf8")) as { phase?: unknown };
    return typeof v.phase === "string" ? (v as NodeStatus) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Wait until the bootstrapper reaches a final phase (done / already-bootstrapped / failed) or exits.
 * A failed node is START_FAILED with the status error and the log's last lines.
 */
export async function waitBootstrapped(
  node: BootedNode,
  r: DaemonRecord,
  timeoutMs: number,
): Promise<NodeStatus> {
  const status = await waitFor(
    () => {
      const s = readNodeStatus(node.runDir);
      if (s && FINAL_PHASES.has(s.phase)) return s;
      if (!isRunning(r)) return s ?? { phase: "exited" };
      return undefined;
    },
    { timeoutMs, intervalMs: 50 },
  );
  if (status && (status.phase === "done" || status.phase === "already-bootstrapped")) return status;
  throw new MiniError(status ? "START_FAILED" : "TIMEOUT", `Node ${node.name} did not finish bootstrapping`, {
    expected: `phase done within ${timeoutMs / 1000} s`,
    actual: `${status ? `phase ${status.phase}${status.error ? ` (${status.error})` : ""}` : `phase ${readNodeStatus(node.runDir)?.phase ?? "unknown"}`}; see ${r.log}: ${logTail(r.log, 3)}`,
  });
}

/** Wait until the bootstrapper has measured the node's identity (left phase `starting`). */
export async function waitIdentityMeasured(
  node: BootedNode,
  r: DaemonRecord,
  timeoutMs: number,
): Promise<void> {
  const ok = await waitFor(
    () => {
      const s = readNodeStatus(node.runDir);
      return s && s.phase !== "starting" && existsSync(join(node.runDir, "eventlog.bin")) ? true : undefined;
    },
    { timeoutMs, alive: () => isRunning(r) },
  );
  if (!ok)
    throw new MiniError("TIMEOUT", `Node ${node.name} did not measure its identity`, {
      actual: `see ${r.log}: ${logTail(r.log, 3)}`,
    });
}

/** Start the node's VerificationService and return it with its URL. */
export async function startVerificationService(
  node: BootedNode,
  env: NodeEnvironment,
  timeoutMs: number,
): Promise<{ record: DaemonRecord; url: string }> {
  const file = endpointsFile(node, "verification-service");
  rmSync(file, { force: true });
  const record = startDaemon({
    name: "verification-service",
    argv: [env.verificationService],
    env: {
      ASTERISM_TPM: `swtpm:${LOOPBACK}:${node.tpmPort}`,
      ASTERISM_VARIANT: env.variant,
      ASTERISM_RUN_DIR: node.runDir,
      ASTERISM_VERIFY_LISTEN: `${LOOPBACK}:0`,
      ASTERISM_ENDPOINTS_FILE: file,
      ASTERISM_LOG_LEVEL: "info",
    },
    log: join(node.dir, "verification-service.log"),
    cwd: node.dir,
  });
  try {
    return { record, url: await waitForEndpoint(record, file, "verify", timeoutMs) };
  } catch (err) {
    await stopDaemon(record, 1000);
    throw err;
  }
}
