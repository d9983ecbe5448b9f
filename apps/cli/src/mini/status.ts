import { existsSync } from "node:fs";
import { join } from "node:path";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { readState } from "../workspace/state.ts";
import { readNodeStatus } from "./node.ts";
import { isRunning } from "./processes.ts";

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
  }[];
  /** Every recorded process runs (a finished bootstrapper counts as expected). */
  readonly healthy: boolean;
}

/** Read the state file and check each recorded process. */
export function miniStatus(ws: WorkspacePaths): MiniStatus {
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
  const nodes = mini.nodes.map((n) => {
    const runDir = join(n.dir, "run");
    const phase = existsSync(runDir) ? readNodeStatus(runDir)?.phase : undefined;
    return {
      name: n.name,
      role: n.role,
      ips: n.ips,
      ...(phase ? { phase } : {}),
      endpoints: n.endpoints,
      processes: n.processes.map(proc),
    };
  });
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
    services,
    nodes,
    healthy,
  };
}
