/**
 * `mini up --vm`: the local cluster as QEMU guests booted from the node image (OVMF + one swtpm vTPM
 * each, state disks mapped with dm-crypt inside the guests), initialized and joined exactly as on a
 * cloud (docs/cli.md "VM nodes"):
 *
 *  1. secrets and the state record (session.ts), the metadata endpoint on the host, every node
 *     registered with its role and guest address 10.0.2.(15+i) before its VM starts;
 *  2. the VMs (`startLocalCluster`: node name in fw_cfg, metadata at 10.0.2.101:80, control-plane-0's
 *     ports at 10.0.2.100), each recorded in the state file the moment it runs;
 *  3. control-plane-0's bootstrapper ready (its status port), then init over server-attested aTLS with
 *     the image's measurements and PCR 15 = 0, sent along as the join policy the node provisions its
 *     JoinService with;
 *  4. control-plane-0's join endpoint (`https://10.0.2.100:9090`) registered in metadata: the other
 *     nodes join by themselves over client-attested aTLS;
 *  5. every node's VerificationService (host-forwarded) verifies with PCR 15 = the cluster ID.
 *
 * On failure everything started is stopped (unless keepOnFailure).
 */
import { join } from "node:path";
import type { Measurements } from "@asterism/measurements";
import {
  GUEST_ADDRESSES,
  GUEST_PORTS,
  type LocalCluster,
  type LocalClusterOptions,
  planLocalCluster,
  startLocalCluster,
} from "@asterism/node-vm";
import type { initFirstNode } from "../cluster/init.ts";
import { nodePolicy } from "../cluster/policy.ts";
import type { verifyNode } from "../cluster/verify-client.ts";
import { MiniError } from "./errors.ts";
import { isRunning } from "./processes.ts";
import {
  beginMini,
  initStep,
  type MiniCommonOptions,
  type MiniUpResult,
  runMini,
  startMetadataStep,
  upResult,
  verifyStep,
} from "./session.ts";
import { checkConfigMatchesImage } from "./vm-image.ts";
import { type FetchLike, forwardedUrl, vmNodeRecord, waitForVmPhase } from "./vm-node.ts";

/**
 * Bounds of each wait. Under TCG (this host's KVM cannot run OVMF) a node boots to its bootstrapper in
 * about 70 s alone, slower when several boot at once on two shared cores.
 */
export const VM_TIMEOUTS = {
  serviceStartMs: 20_000,
  /** From starting the VMs to control-plane-0's bootstrapper waiting for init. */
  bootMs: 8 * 60_000,
  /** Init itself once connected: LUKS format, file system, PKI and service provisioning in the guest. */
  initMs: 5 * 60_000,
  /** From the join endpoint's registration until every node verifies. */
  joinMs: 10 * 60_000,
} as const;

/** What `mini up --vm` calls outside itself; tests inject fakes. */
export interface MiniVmDeps {
  readonly startCluster: (opts: LocalClusterOptions) => Promise<LocalCluster>;
  readonly initFirstNode?: typeof initFirstNode;
  readonly verifyNode?: typeof verifyNode;
  readonly fetch?: FetchLike;
}

/** What `mini up --vm` needs. */
export interface MiniUpVmOptions extends MiniCommonOptions {
  /** The node image (`bun image/build.ts`), and the PCRs it predicts (`measureImage`). */
  readonly image: string;
  readonly imageMeasurements: Measurements;
  readonly controlPlanes: number;
  readonly workers: number;
  /** Guest memory per node, MiB. */
  readonly memoryMiB: number;
  readonly deps?: Partial<MiniVmDeps>;
  readonly timeouts?: Partial<Record<keyof typeof VM_TIMEOUTS, number>>;
}

/** The API server endpoint the nodes are given: control-plane-0 through the local "load balancer". */
const API_SERVER_ENDPOINT = `${GUEST_ADDRESSES.controlPlane}:6443`;
/** Where the other nodes find the JoinService (registered in metadata after init). */
const JOIN_ENDPOINT = `https://${GUEST_ADDRESSES.controlPlane}:${GUEST_PORTS.join}`;

/** Bring up the VM local cluster. */
export async function miniUpVm(o: MiniUpVmOptions): Promise<MiniUpResult> {
  const { ws, config, progress: p } = o;
  if (config.attestation.variant !== "qemu-vtpm")
    throw new MiniError("CONFIG_UNSUPPORTED", "mini up --vm runs qemu-vtpm clusters only", {
      actual: config.attestation.variant,
    });
  checkConfigMatchesImage(config, o.imageMeasurements, o.image);
  const t = { ...VM_TIMEOUTS, ...o.timeouts };
  const startCluster = o.deps?.startCluster ?? startLocalCluster;
  const s = beginMini(o, { image: o.image });
  const { recorder } = s;

  return await runMini(o, async () => {
    // 1. Metadata endpoint; every node registered before it boots (its bootstrapper asks at once).
    const metadata = await startMetadataStep(o, s, t.serviceStartMs);
    const clusterOpts: LocalClusterOptions = {
      image: o.image,
      dir: join(ws.miniDir, "nodes"),
      controlPlanes: o.controlPlanes,
      workers: o.workers,
      clusterName: config.name,
      servicePorts: Object.values(GUEST_PORTS),
      metadataHostPort: Number(new URL(metadata.endpoint).port),
      memoryMiB: o.memoryMiB,
      onNodeStarted: (node) => recorder.upsertNode(vmNodeRecord(node)),
    };
    for (const n of planLocalCluster(clusterOpts, new Map()))
      await metadata.client.putInstance(metadata.token, n.nodeName, { role: n.role, ips: [n.ip] });

    // 2. The VMs.
    const cluster = await p.step(
      `Start ${o.controlPlanes + o.workers} VM(s) from ${o.image}`,
      () => startCluster(clusterOpts),
      (c) => c.nodes.map((n) => `${n.nodeName} ${n.ip}`).join(", "),
    );
    const first = cluster.nodes[0];
    const initUrl = first && forwardedUrl(first.ports, GUEST_PORTS.init, "https");
    const statusBase = first && forwardedUrl(first.ports, GUEST_PORTS.bootstrapperStatus, "http");
    if (!first || !initUrl || !statusBase)
      throw new MiniError("START_FAILED", "The first control plane has no forwarded init and status ports");
    const qemuOf = (name: string) => recorder.node(name)?.processes.find((r) => r.name === "qemu");
    const alive = (name: string) => {
      const q = qemuOf(name);
      return q !== undefined && isRunning(q);
    };

    // 3. Init over aTLS, once the bootstrapper waits for it.
    await p.step(
      `Boot ${first.nodeName} (serial console ${first.serialLog})`,
      () =>
        waitForVmPhase({ name: first.nodeName, statusBase, serialLog: first.serialLog }, ["waiting"], {
          timeoutMs: t.bootMs,
          alive: () => alive(first.nodeName),
          ...(o.deps?.fetch ? { fetch: o.deps.fetch } : {}),
        }),
      (st) => `bootstrapper ${st.phase}`,
    );
    recorder.setNodeEndpoint(first.nodeName, "init", initUrl);
    const initPolicy = nodePolicy(config, undefined);
    const { init, clusterId } = await initStep(o, s, {
      endpoint: initUrl,
      nodeName: first.nodeName,
      policy: initPolicy,
      controlPlaneEndpoint: API_SERVER_ENDPOINT,
      waitForEndpointMs: t.serviceStartMs,
      responseTimeoutMs: t.initMs,
      ...(o.deps?.initFirstNode ? { initFirstNode: o.deps.initFirstNode } : {}),
    });

    // 4. The JoinService the node provisioned, for every other node.
    await metadata.client.putInstance(metadata.token, first.nodeName, {
      role: first.role,
      ips: [first.ip],
      endpoints: { join: JOIN_ENDPOINT },
    });
    recorder.setNodeEndpoint(first.nodeName, "join", JOIN_ENDPOINT);

    // 5. Every node verifies with PCR 15 = cluster ID (its VerificationService starts once activated).
    const targets = cluster.nodes.map((n) => ({
      name: n.nodeName,
      url: forwardedUrl(n.ports, GUEST_PORTS.verify, "http") ?? "",
    }));
    recorder.update((st) => ({
      ...st,
      infrastructure: { ...st.infrastructure, verifyEndpoints: targets.map((x) => x.url) },
    }));
    const policy = nodePolicy(config, clusterId);
    const serialOf = new Map(cluster.nodes.map((n) => [n.nodeName, n.serialLog]));
    const verdicts = await verifyStep(o, targets, policy, {
      waitMs: t.joinMs,
      logOf: (name) => serialOf.get(name),
      ...(o.deps?.verifyNode ? { verify: o.deps.verifyNode } : {}),
    });
    return upResult(o, s, {
      kind: "vm",
      clusterId,
      nodes: cluster.nodes.map((n, i) => ({
        name: n.nodeName,
        role: n.role,
        ips: [n.ip],
        verifyUrl: targets[i]?.url ?? "",
      })),
      verdicts,
      policy,
      kubernetes: init.kubernetes,
      files: { image: o.image },
    });
  });
}
