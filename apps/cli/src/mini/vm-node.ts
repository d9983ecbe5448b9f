/**
 * One node of a VM local cluster as the CLI sees it from the host: its QEMU and swtpm processes (for the
 * state file, `mini status` and `mini down`), its guest ports forwarded to 127.0.0.1, and its
 * bootstrapper's plain-HTTP status (`/v1/status`, guest port `GUEST_PORTS.bootstrapperStatus`).
 */
import { API_PATHS } from "@asterism/api";
import { GUEST_PORTS, type LocalClusterNode } from "@asterism/node-vm";
import * as v from "valibot";
import type { MiniNode } from "../workspace/state.ts";
import { MiniError } from "./errors.ts";
import type { NodeStatus } from "./node.ts";
import { LOOPBACK, waitFor } from "./ports.ts";
import { type DaemonRecord, processStartTime } from "./processes.ts";

/** The bootstrapper's `/v1/status` answer (docs/lifecycle.md §5); other fields are ignored. */
const NodeStatusSchema = v.object({
  phase: v.pipe(v.string(), v.maxLength(32)),
  role: v.optional(v.pipe(v.string(), v.maxLength(32))),
  clusterId: v.optional(v.pipe(v.string(), v.maxLength(128))),
  error: v.optional(v.pipe(v.string(), v.maxLength(256))),
});

/** Largest status answer read (it is a few dozen bytes). */
const MAX_STATUS_BYTES = 4096;

/** The QEMU and swtpm processes of a started VM, identified by PID and start time like every daemon. */
export function vmProcessRecords(vm: Pick<LocalClusterNode, "qemuPid" | "swtpmPid" | "serialLog" | "name">) {
  const records: DaemonRecord[] = [];
  for (const [name, pid, log] of [
    ["qemu", vm.qemuPid, vm.serialLog],
    ["swtpm", vm.swtpmPid, undefined],
  ] as const) {
    const startTime = processStartTime(pid);
    if (startTime === undefined)
      throw new MiniError("START_FAILED", `The ${name} process of VM ${vm.name} is gone`, {
        expected: `pid ${pid} running`,
        actual: `exited; see ${vm.serialLog}`,
      });
    records.push({ name, pid, startTime, ...(log ? { log } : {}) });
  }
  return records;
}

/** `http(s)://127.0.0.1:<host port>` of a guest port, or undefined when it is not forwarded. */
export function forwardedUrl(
  ports: ReadonlyMap<number, number> | Readonly<Record<string, number>>,
  guestPort: number,
  scheme: "http" | "https",
): string | undefined {
  const port =
    ports instanceof Map ? ports.get(guestPort) : (ports as Record<string, number>)[String(guestPort)];
  return port === undefined ? undefined : `${scheme}://${LOOPBACK}:${port}`;
}

/** The state file's record of a VM node as it starts: its processes, forwards and VerificationService. */
export function vmNodeRecord(node: LocalClusterNode): MiniNode {
  const verify = forwardedUrl(node.ports, GUEST_PORTS.verify, "http");
  return {
    name: node.nodeName,
    role: node.role,
    ips: [node.ip],
    dir: node.dir,
    endpoints: verify ? { verify } : {},
    processes: vmProcessRecords(node),
    vm: { dir: node.dir, serialLog: node.serialLog, ports: Object.fromEntries(node.ports) },
  };
}

/** Injected in tests. */
export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** The bootstrapper's status, or undefined while it does not answer (booting, or exited once activated). */
export async function readVmStatus(
  statusBase: string,
  fetch: FetchLike = globalThis.fetch,
  timeoutMs = 2000,
): Promise<NodeStatus | undefined> {
  try {
    const res = await fetch(`${statusBase}${API_PATHS.status}`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const text = await res.text();
    if (text.length > MAX_STATUS_BYTES) return undefined;
    const r = v.safeParse(NodeStatusSchema, JSON.parse(text));
    return r.success ? r.output : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Wait until the node's bootstrapper reports one of `phases` (e.g. `waiting`: booted, ready for init).
 * `failed` ends the wait at once with START_FAILED; so does QEMU exiting (`alive`). TIMEOUT names the
 * serial log to read.
 */
export async function waitForVmPhase(
  node: { readonly name: string; readonly statusBase: string; readonly serialLog: string },
  phases: readonly string[],
  o: { readonly timeoutMs: number; readonly alive: () => boolean; readonly fetch?: FetchLike },
): Promise<NodeStatus> {
  let last: NodeStatus | undefined;
  const status = await waitFor(
    async () => {
      const s = await readVmStatus(node.statusBase, o.fetch);
      if (s) last = s;
      return s && (phases.includes(s.phase) || s.phase === "failed") ? s : undefined;
    },
    { timeoutMs: o.timeoutMs, intervalMs: 1000, alive: o.alive },
  );
  if (status && status.phase !== "failed") return status;
  const why = status
    ? `phase failed${status.error ? ` (${status.error})` : ""}`
    : o.alive()
      ? `phase ${last?.phase ?? "unknown (no answer)"}`
      : "the VM stopped";
  throw new MiniError(
    status || !o.alive() ? "START_FAILED" : "TIMEOUT",
    `Node ${node.name} did not get ready`,
    {
      expected: `bootstrapper phase ${phases.join(" or ")} within ${Math.round(o.timeoutMs / 1000)} s`,
      actual: `${why}; see ${node.serialLog}`,
    },
  );
}
