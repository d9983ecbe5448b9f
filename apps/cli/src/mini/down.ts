/**
 * `mini down`: stop every process the state file records — services first, then each node's
 * VerificationService and bootstrapper (or its QEMU), its swtpm last — and check that none survived. Processes are
 * identified by PID and start time, so nothing else on the machine is ever signalled.
 */
import { rmSync } from "node:fs";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { readState } from "../workspace/state.ts";
import { MiniError } from "./errors.ts";
import { type DaemonRecord, isRunning, stopDaemon } from "./processes.ts";

/** What was stopped. */
export interface MiniDownResult {
  readonly stopped: readonly {
    readonly owner: string;
    readonly name: string;
    readonly pid: number;
    readonly how: string;
  }[];
  /** Processes still running afterwards (should be none). */
  readonly survivors: readonly DaemonRecord[];
  readonly removed: readonly string[];
}

/** Order of shutdown: clients before the services they use, TPMs last (a VM node: QEMU, then its swtpm). */
const NODE_ORDER = ["verification-service", "bootstrapper", "qemu", "swtpm"];
const SERVICE_ORDER = ["join-service", "kms", "metadata"];

const rank = (order: readonly string[], name: string) => {
  const i = order.indexOf(name);
  return i === -1 ? -1 : i;
};

/**
 * Stop the local cluster recorded in the workspace. `removeFiles` deletes the node files, the state file
 * and the admin kubeconfig (the cluster is gone; its disks were encrypted under its keys); the config,
 * the boot components and the master secret always stay.
 */
export async function stopMini(ws: WorkspacePaths, opts: { removeFiles: boolean }): Promise<MiniDownResult> {
  const state = readState(ws.state);
  const mini = state?.mini;
  const stopped: { owner: string; name: string; pid: number; how: string }[] = [];
  const all: DaemonRecord[] = [];
  if (mini) {
    const services = [...mini.services].sort(
      (a, b) => rank(SERVICE_ORDER, a.name) - rank(SERVICE_ORDER, b.name),
    );
    for (const s of services) {
      all.push(s.process);
      stopped.push({ owner: "cluster", name: s.name, pid: s.process.pid, how: await stopDaemon(s.process) });
    }
    // Nodes in parallel (each node's own order kept): one slow process must not hold the others up.
    await Promise.all(
      mini.nodes.map(async (n) => {
        const procs = [...n.processes].sort((a, b) => rank(NODE_ORDER, a.name) - rank(NODE_ORDER, b.name));
        for (const p of procs) {
          all.push(p);
          stopped.push({ owner: n.name, name: p.name, pid: p.pid, how: await stopDaemon(p) });
        }
      }),
    );
  }
  const survivors = all.filter(isRunning);
  if (survivors.length) {
    throw new MiniError("START_FAILED", "Some local-cluster processes did not stop", {
      actual: survivors.map((s) => `${s.name} (pid ${s.pid})`).join(", "),
    });
  }
  const removed: string[] = [];
  if (opts.removeFiles) {
    for (const f of [ws.miniDir, ws.state, ws.adminConf]) {
      rmSync(f, { recursive: true, force: true });
      removed.push(f);
    }
  }
  return { stopped, survivors, removed };
}
