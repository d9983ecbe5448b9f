import { existsSync } from "node:fs";
import { join } from "node:path";
import { API_PATHS } from "@asterism/api";
import { GUEST_PORTS } from "@asterism/node-vm";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { type MiniNode, readState } from "../workspace/state.ts";
import { readNodeStatus } from "./node.ts";
import { isRunning } from "./processes.ts";
import { type FetchLike, forwardedUrl, readVmStatus } from "./vm-node.ts";

/** One process's status. */
export interface ProcessStatus {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  readonly log?: string;
}

/** The local cluster as `mini status` shows it. */
export interface MiniStatus {
  readonly exists: boolean;
  readonly name?: string;
  readonly clusterId?: string;
  readonly startedAt?: string;
  readonly services: readonly (ProcessStatus & { readonly endpoint?: string })[];
  readonly nodes: readonly {
    readonly name: string;
    readonly role: string;
    readonly ips: readonly string[];
    /** The bootstrapper's phase from its status.json. */
    readonly phase?: string;
    readonly endpoints: Readonly<Record<string, string>>;
    readonly processes: readonly ProcessStatus[];
    /** VM nodes: the serial console log (the guest's journal). */
    readonly serialLog?: string;
  }[];
  /** VM clusters: the node image. */
  readonly image?: string;
  /** Every recorded process runs (a finished bootstrapper counts as expected). */
  readonly healthy: boolean;
}

/** Is the VM node's VerificationService up (it starts once the node is activated)? */
async function answers(url: string | undefined, fetch: FetchLike): Promise<boolean> {
  if (!url) return false;
  try {
    return (await fetch(`${url}${API_PATHS.healthz}`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

/**
 * The phase of a VM node, asked over its forwarded ports: the bootstrapper's `/v1/status` while it runs;
 * once it has exited (activated), `done` if the VerificationService answers.
 */
async function vmPhase(vm: NonNullable<MiniNode["vm"]>, fetch: FetchLike): Promise<string | undefined> {
  const status = forwardedUrl(vm.ports, GUEST_PORTS.bootstrapperStatus, "http");
  const s = status ? await readVmStatus(status, fetch) : undefined;
  if (s) return s.phase;
  return (await answers(forwardedUrl(vm.ports, GUEST_PORTS.verify, "http"), fetch)) ? "done" : undefined;
}

/** Read the state file and check each recorded process (VM nodes: their phase over the forwarded ports). */
export async function miniStatus(
  ws: WorkspacePaths,
  fetch: FetchLike = globalThis.fetch,
): Promise<MiniStatus> {
  const state = readState(ws.state);
  const mini = state?.mini;
  if (!state || !mini) return { exists: false, services: [], nodes: [], healthy: false };
  const proc = (p: {
    name: string;
    pid: number;
    startTime: string;
    log?: string | undefined;
  }): ProcessStatus => ({
    name: p.name,
    pid: p.pid,
    running: isRunning(p),
    ...(p.log ? { log: p.log } : {}),
  });
  const services = mini.services.map((s) => ({
    ...proc(s.process),
    ...(s.endpoint ? { endpoint: s.endpoint } : {}),
  }));
  const nodes = await Promise.all(
    mini.nodes.map(async (n) => {
      const runDir = join(n.dir, "run");
      const alive = n.processes.some((p) => p.name === "qemu" && isRunning(p));
      const phase = n.vm
        ? alive
          ? await vmPhase(n.vm, fetch)
          : undefined
        : existsSync(runDir)
          ? readNodeStatus(runDir)?.phase
          : undefined;
      return {
        name: n.name,
        role: n.role,
        ips: n.ips,
        ...(phase ? { phase } : {}),
        endpoints: n.endpoints,
        processes: n.processes.map(proc),
        ...(n.vm ? { serialLog: n.vm.serialLog } : {}),
      };
    }),
  );
  // The bootstrapper exits once its node is bootstrapped; everything else must run.
  const healthy =
    services.every((s) => s.running) &&
    nodes.every((n) =>
      n.processes.every(
        (p) =>
          p.running ||
          (p.name === "bootstrapper" && (n.phase === "done" || n.phase === "already-bootstrapped")),
      ),
    );
  return {
    exists: true,
    name: state.infrastructure.name,
    ...(state.clusterValues ? { clusterId: state.clusterValues.clusterID } : {}),
    startedAt: mini.startedAt,
    ...(mini.image ? { image: mini.image } : {}),
    services,
    nodes,
    healthy,
  };
}
