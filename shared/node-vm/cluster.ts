import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { NodeVmError } from "./errors.ts";
import { GUEST_ADDRESSES, METADATA_GUEST_PORT, nodeGuestIp } from "./ports.ts";
import {
  freeLoopbackPort,
  type GuestForward,
  type NodeVm,
  type NodeVmOptions,
  startNodeVm,
  stopNodeVm,
} from "./vm.ts";

/** Options of {@link startLocalCluster}. */
export interface LocalClusterOptions {
  readonly image: string;
  /** Directory holding one sub-directory per node (`control-plane-0`, `worker-0`, …). */
  readonly dir: string;
  readonly controlPlanes: number;
  readonly workers: number;
  /**
   * Node names (fw_cfg) are `<clusterName>-control-plane-<i>` / `<clusterName>-worker-<i>`, as in the
   * process local cluster; without it they are the VM names (`control-plane-0`, …).
   */
  readonly clusterName?: string;
  /** Guest TCP ports every node exposes (bootstrapper, join service, verification service, API server…). */
  readonly servicePorts: readonly number[];
  /**
   * The host's metadata endpoint (127.0.0.1:`metadataHostPort`), which every node reaches at
   * `GUEST_ADDRESSES.metadata:METADATA_GUEST_PORT` (`METADATA_GUEST_URL`).
   */
  readonly metadataHostPort?: number;
  /**
   * Other host services every node must reach, each listening on 127.0.0.1: the node dials
   * `guestAddress:guestPort` and QEMU connects it to `127.0.0.1:hostPort`.
   */
  readonly hostServices?: readonly GuestForward[];
  readonly memoryMiB?: number;
  readonly accel?: "kvm" | "tcg";
  /**
   * Called as soon as each VM runs (before the others have started), so a caller can record its
   * processes: if this process dies half-way, whatever was started can still be found and stopped.
   */
  readonly onNodeStarted?: (node: LocalClusterNode) => void;
  /** The VM starter (tests inject a fake; default {@link startNodeVm}). */
  readonly startVm?: (opts: NodeVmOptions) => Promise<NodeVm>;
}

/** A node of a local cluster. */
export interface LocalClusterNode extends NodeVm {
  readonly role: "control-plane" | "worker";
  /** The name the node reads from fw_cfg and the metadata endpoint lists. */
  readonly nodeName: string;
  /** Its address inside its own network (`nodeGuestIp`), as the metadata endpoint lists it. */
  readonly ip: string;
}

/** A started local cluster. */
export interface LocalCluster {
  readonly nodes: readonly LocalClusterNode[];
  /**
   * The address every node dials to reach control-plane-0's service ports (QEMU `guestfwd` to its
   * loopback forwards): `10.0.2.100:<port>`, the local cluster's "load balancer".
   */
  readonly controlPlaneAddress: string;
}

/** The guest address that stands for control-plane-0 inside every node. */
export const CONTROL_PLANE_GUEST_ADDRESS = GUEST_ADDRESSES.controlPlane;

/** One planned node: its VM options and what the cluster adds. */
export interface PlannedNode {
  readonly role: "control-plane" | "worker";
  readonly nodeName: string;
  readonly ip: string;
  readonly vm: NodeVmOptions;
}

/**
 * The VMs of a local cluster (pure, so the networking is tested without booting): node `i` (control
 * planes first) gets `nodeGuestIp(i)` and its name in fw_cfg; every node forwards the service ports to
 * loopback, control-plane-0 to the fixed `cp0Ports`; every node but control-plane-0 reaches those at
 * {@link CONTROL_PLANE_GUEST_ADDRESS} (control-plane-0 reaches its own services on localhost, and a
 * guestfwd to its own hostfwd would loop), and every node reaches the metadata endpoint.
 */
export function planLocalCluster(
  opts: LocalClusterOptions,
  cp0Ports: ReadonlyMap<number, number>,
): PlannedNode[] {
  if (opts.controlPlanes < 1 || opts.controlPlanes > 5 || opts.workers < 0 || opts.workers > 8)
    throw new NodeVmError("INVALID_OPTIONS", "Cannot start local cluster", {
      expected: "1-5 control planes, 0-8 workers",
      actual: `${opts.controlPlanes} control planes, ${opts.workers} workers`,
    });
  const dir = resolve(opts.dir);
  const toCp0 = [...cp0Ports].map(([guestPort, hostPort]) => ({
    guestAddress: CONTROL_PLANE_GUEST_ADDRESS,
    guestPort,
    hostPort,
  }));
  const hostServices = [
    ...(opts.metadataHostPort === undefined
      ? []
      : [
          {
            guestAddress: GUEST_ADDRESSES.metadata,
            guestPort: METADATA_GUEST_PORT,
            hostPort: opts.metadataHostPort,
          },
        ]),
    ...(opts.hostServices ?? []),
  ];
  const roles = [
    ...Array.from({ length: opts.controlPlanes }, (_, i) => ["control-plane", i] as const),
    ...Array.from({ length: opts.workers }, (_, i) => ["worker", i] as const),
  ];
  return roles.map(([role, i], index) => {
    const name = `${role}-${i}`;
    const ip = nodeGuestIp(index);
    const nodeName = opts.clusterName === undefined ? name : `${opts.clusterName}-${name}`;
    return {
      role,
      nodeName,
      ip,
      vm: {
        name,
        nodeName,
        guestIp: ip,
        image: opts.image,
        dir: join(dir, name),
        hostForwards: opts.servicePorts.map((guestPort) => ({
          guestPort,
          ...(index === 0 ? { hostPort: cp0Ports.get(guestPort) ?? 0 } : {}),
        })),
        guestForwards: [...(index === 0 ? [] : toCp0), ...hostServices],
        ...(opts.memoryMiB === undefined ? {} : { memoryMiB: opts.memoryMiB }),
        ...(opts.accel === undefined ? {} : { accel: opts.accel }),
      },
    };
  });
}

/**
 * Boot a local cluster: control-plane and worker VMs from one image, each with its own vTPM, OVMF
 * variables and state disk, on user-mode networks joined only through 127.0.0.1. Control-plane-0's
 * service ports are forwarded to free loopback ports first; every other node reaches them at
 * {@link CONTROL_PLANE_GUEST_ADDRESS} (see {@link planLocalCluster}). Nodes boot in parallel. On failure,
 * every started VM is stopped before the error propagates. `mini up --vm` calls this;
 * {@link stopLocalCluster} undoes it.
 */
export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const cp0Ports = new Map<number, number>();
  for (const p of opts.servicePorts) cp0Ports.set(p, await freeLoopbackPort());
  const plan = planLocalCluster(opts, cp0Ports);
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const startVm = opts.startVm ?? startNodeVm;
  const started: LocalClusterNode[] = [];
  try {
    const results = await Promise.allSettled(
      plan.map(async ({ role, nodeName, ip, vm: vmOpts }) => {
        const node: LocalClusterNode = { ...(await startVm(vmOpts)), role, nodeName, ip };
        started.push(node);
        opts.onNodeStarted?.(node);
        return node;
      }),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const nodes = results.map((r) => (r as PromiseFulfilledResult<LocalClusterNode>).value);
    writeFileSync(
      join(dir, "cluster.json"),
      `${JSON.stringify(
        {
          controlPlaneAddress: CONTROL_PLANE_GUEST_ADDRESS,
          nodes: nodes.map((n) => ({
            name: n.name,
            nodeName: n.nodeName,
            role: n.role,
            ip: n.ip,
            ports: Object.fromEntries(n.ports),
          })),
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
