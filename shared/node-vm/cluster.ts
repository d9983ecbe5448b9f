import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { NodeVmError } from "./errors.ts";
import { freeLoopbackPort, type GuestForward, type NodeVm, startNodeVm, stopNodeVm } from "./vm.ts";

/** Options of {@link startLocalCluster}. */
export interface LocalClusterOptions {
  readonly image: string;
  /** Directory holding one sub-directory per node (`control-plane-0`, `worker-0`, …). */
  readonly dir: string;
  readonly controlPlanes: number;
  readonly workers: number;
  /** Guest TCP ports every node exposes (bootstrapper, join service, verification service, API server…). */
  readonly servicePorts: readonly number[];
  /**
   * Host services every node must reach (metadata endpoint, KMS…), each listening on 127.0.0.1: the
   * node dials `guestAddress:guestPort` and QEMU connects it to `127.0.0.1:hostPort`.
   */
  readonly hostServices?: readonly GuestForward[];
  readonly memoryMiB?: number;
  readonly accel?: "kvm" | "tcg";
}

/** A started local cluster. */
export interface LocalCluster {
  readonly nodes: readonly (NodeVm & { readonly role: "control-plane" | "worker" })[];
  /**
   * The address every node dials to reach control-plane-0's service ports (QEMU `guestfwd` to its
   * loopback forwards): `10.0.2.100:<port>`, the local cluster's "load balancer".
   */
  readonly controlPlaneAddress: string;
}

/** The guest address that stands for control-plane-0 inside every node. */
export const CONTROL_PLANE_GUEST_ADDRESS = "10.0.2.100";

/**
 * Boot a local cluster: control-plane and worker VMs from one image, each with its own vTPM, OVMF
 * variables and state disk, on user-mode networks joined only through 127.0.0.1. Control-plane-0's
 * service ports are forwarded to free loopback ports first; every node (itself included) reaches them
 * at {@link CONTROL_PLANE_GUEST_ADDRESS}. Nodes boot in parallel. On failure, every started VM is
 * stopped before the error propagates. `mini up --vm` calls this; {@link stopLocalCluster} undoes it.
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  if (opts.controlPlanes < 1 || opts.controlPlanes > 5 || opts.workers < 0 || opts.workers > 8)
    throw new NodeVmError("INVALID_OPTIONS", "Cannot start local cluster", {
      expected: "1-5 control planes, 0-8 workers",
      actual: `${opts.controlPlanes} control planes, ${opts.workers} workers`,
    });
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const cp0Ports = new Map<number, number>();
  for (const p of opts.servicePorts) cp0Ports.set(p, await freeLoopbackPort());
  const guestForwards = [...cp0Ports].map(([guestPort, hostPort]) => ({
    guestAddress: CONTROL_PLANE_GUEST_ADDRESS,
    guestPort,
    hostPort,
  }));
  const plan = [
    ...Array.from({ length: opts.controlPlanes }, (_, i) => ({
      name: `control-plane-${i}`,
      role: "control-plane" as const,
    })),
    ...Array.from({ length: opts.workers }, (_, i) => ({ name: `worker-${i}`, role: "worker" as const })),
  ];
  const started: LocalCluster["nodes"][number][] = [];
  try {
    const results = await Promise.allSettled(
      plan.map(async ({ name, role }, i) => {
        const vm = await startNodeVm({
          name,
          image: opts.image,
          dir: join(dir, name),
          hostForwards: opts.servicePorts.map((guestPort) => ({
            guestPort,
            ...(i === 0 ? { hostPort: cp0Ports.get(guestPort) ?? 0 } : {}),
          })),
          // control-plane-0 must not forward to itself through guestfwd and hostfwd at once; it
          // reaches its own services on localhost.
          guestForwards: [...(i === 0 ? [] : guestForwards), ...(opts.hostServices ?? [])],
          ...(opts.memoryMiB === undefined ? {} : { memoryMiB: opts.memoryMiB }),
          ...(opts.accel === undefined ? {} : { accel: opts.accel }),
        });
        const node = { ...vm, role };
        started.push(node);
        return node;
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const nodes = results.map((r) => (r as PromiseFulfilledResult<LocalCluster["nodes"][number]>).value);
    writeFileSync(
      join(dir, "cluster.json"),
      `${JSON.stringify(
        {
          controlPlaneAddress: CONTROL_PLANE_GUEST_ADDRESS,
          nodes: nodes.map((n) => ({ name: n.name, role: n.role, ports: Object.fromEntries(n.ports) })),
        },
        null,
        2,
      )}\n`,
    );
    return { nodes, controlPlaneAddress: CONTROL_PLANE_GUEST_ADDRESS };
  } catch (err) {
    await Promise.all(started.map((n) => stopNodeVm(n.dir, 0)));
    throw err;
  }
}

/** Stop every node VM under `dir` (the VM directories stay: a later start is a reboot). */
export async function stopLocalCluster(dir: string, graceMs = 10_000): Promise<void> {
  const root = resolve(dir);
  const nodeDirs = existsSync(root)
    ? readdirSync(root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && existsSync(join(root, e.name, "vm.json")))
        .map((e) => join(root, e.name))
    : [];
  await Promise.all(nodeDirs.map((d) => stopNodeVm(d, graceMs)));
}
