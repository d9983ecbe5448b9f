/**
 * `mini up`: a local confidential cluster from N control-plane and M worker "nodes", each a set of local
 * processes — its own swtpm, measured boot, state disk and the compiled bootstrapper — plus the metadata
 * endpoint, KMS and JoinService; then init over attested TLS, joins, and a verify of every node.
 *
 * Steps (docs/lifecycle.md §6):
 *  1. secrets: master secret (reused if the workspace has one, never overwritten), init secret, salt;
 *  2. metadata endpoint with the init secret's bcrypt hash;
 *  3. every node: swtpm, simulated firmware (boot components → PCRs + TCG event log), state-disk image,
 *     registration in metadata, bootstrapper;
 *  4. init of the first control plane over server-attested aTLS (policy: config measurements, PCR 15 = 0);
 *     with `owner`, first the owners' ceremony (enrollment + approval of that policy) and the pin in the
 *     init request, then their log in the cluster state before the join configuration (cluster/owners.ts);
 *  5. KMS + JoinService, join configuration in the cluster state; the other nodes join by themselves;
 *  6. a VerificationService per node; verify each against the config plus PCR 15 = cluster ID.
 * Every process is recorded in the state file as soon as it starts; on failure everything is stopped.
 */
import { join } from "node:path";
import { toHex } from "@asterism/bytes";
import { openClusterState, writeJoinConfig } from "@asterism/lifecycle";
import { expectedClusterId } from "../cluster/init.ts";
import { type EnrolledOwners, enrollOwnersAtInit, publishOwners, writeOwnerLog } from "../cluster/owners.ts";
import { nodePolicy } from "../cluster/policy.ts";
import type { CliIo } from "../command.ts";
import type { CeremonySettings } from "../commands/owner/ceremony.ts";
import { ensureBinaries } from "./binaries.ts";
import { MiniError } from "./errors.ts";
import {
  type BootedNode,
  bootNode,
  type NodeEnvironment,
  type NodePlan,
  startBootstrapper,
  startVerificationService,
  waitBootstrapped,
  waitForBootstrapperEndpoint,
} from "./node.ts";
import { LOOPBACK } from "./ports.ts";
import { createServicePki, startJoinService, startKms } from "./services.ts";
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

export { assertNotRunning, type MiniNodeSummary, type MiniUpResult } from "./session.ts";

/** Bounds of each wait; the whole `mini up` stays well under a minute on an idle machine. */
export const MINI_TIMEOUTS = {
  serviceStartMs: 20_000,
  initMs: 60_000,
  joinMs: 90_000,
} as const;

/** What `mini up` needs. */
export interface MiniUpOptions extends MiniCommonOptions {
  /** Directory of the config file (boot component paths are relative to it). */
  readonly configDir: string;
  readonly controlPlanes: number;
  readonly workers: number;
  readonly binDir: string;
  /**
   * `--owner`: enroll the cluster's owners in the browser and have them approve the initial policy
   * before init (cluster/owners.ts); the JoinService and KMS then run with their anchor.
   */
  readonly owner?: {
    readonly threshold: number;
    readonly settings: CeremonySettings;
    /** Where the ceremony link is printed (always, even with --output json). */
    readonly io: CliIo;
  };
}

/** The nodes of a cluster named `name`. */
export function planNodes(dir: string, name: string, controlPlanes: number, workers: number): NodePlan[] {
  const plans: NodePlan[] = [];
  for (let i = 0; i < controlPlanes; i++) {
    const n = `${name}-control-plane-${i}`;
    plans.push({ name: n, role: "control-plane", dir: join(dir, "nodes", n) });
  }
  for (let i = 0; i < workers; i++) {
    const n = `${name}-worker-${i}`;
    plans.push({ name: n, role: "worker", dir: join(dir, "nodes", n) });
  }
  return plans;
}

/** Bring the local cluster up. On failure every started process is stopped (unless keepOnFailure). */
export async function miniUp(o: MiniUpOptions): Promise<MiniUpResult> {
  const { ws, config, progress: p } = o;
  const qemu = config.provider.qemu;
  if (!qemu) throw new MiniError("CONFIG_UNSUPPORTED", "mini up needs a qemu configuration");
  const bins = await p.step("Service binaries", () =>
    ensureBinaries(o.binDir, (missing) => p.info(`building ${missing.join(", ")} (scripts/build.ts) …`)),
  );
  const s = beginMini(o);
  const { recorder } = s;

  return await runMini(o, async () => {
    // 1. Metadata endpoint.
    const metadata = await startMetadataStep(o, s, MINI_TIMEOUTS.serviceStartMs);
    const { client: mdClient, token } = metadata;

    // 2. Nodes: swtpm, measured boot, disk, registration, bootstrapper.
    const env: NodeEnvironment = {
      bootstrapper: bins.bootstrapper,
      verificationService: bins["verification-service"],
      metadataUrl: metadata.endpoint,
      variant: config.attestation.variant,
      bootComponents: qemu.bootComponents,
      bootBaseDir: o.configDir,
      stateDiskMiB: qemu.stateDiskSizeMiB,
      diskPbkdf: qemu.diskPbkdf,
    };
    const plans = planNodes(ws.miniDir, config.name, o.controlPlanes, o.workers);
    const nodes: BootedNode[] = await p.step(
      `Boot ${plans.length} node(s): swtpm, measured boot, state disk`,
      () =>
        Promise.all(
          plans.map(async (plan) => {
            const node = await bootNode(plan, env);
            recorder.upsertNode({
              name: node.name,
              role: node.role,
              ips: [LOOPBACK],
              dir: node.dir,
              tpmPort: node.tpmPort,
              endpoints: {},
              processes: [{ ...node.swtpm }],
            });
            await mdClient.putInstance(token, node.name, { role: node.role, ips: [LOOPBACK] });
            return node;
          }),
        ),
    );
    const bootstrappers = new Map(
      nodes.map((n) => {
        const r = startBootstrapper(n, env);
        recorder.addNodeProcess(n.name, r);
        return [n.name, r] as const;
      }),
    );
    const first = nodes[0] as BootedNode;
    const firstBs = bootstrappers.get(first.name)!;
    const initUrl = await p.step(
      `Bootstrappers (${nodes.length})`,
      async () => {
        const url = await waitForBootstrapperEndpoint(first, firstBs, "init", MINI_TIMEOUTS.serviceStartMs);
        recorder.setNodeEndpoint(first.name, "init", url);
        await mdClient.putInstance(token, first.name, {
          role: first.role,
          ips: [LOOPBACK],
          endpoints: { init: url },
        });
        return url;
      },
      (u) => `init endpoint ${u}`,
    );

    // 3. Init over aTLS: the node must show the configured boot and PCR 15 = 0 before secrets leave.
    const initPolicy = nodePolicy(config, undefined);
    // With --owner, the owners enroll and approve that policy first (nothing is sent to a node before).
    const ownerOpts = o.owner;
    let owners: EnrolledOwners | undefined;
    if (ownerOpts) {
      const expectedId = toHex(await expectedClusterId(s.master, s.measurementSalt));
      owners = await p.step(
        "Owners: enroll passkeys and approve the initial policy (browser)",
        () =>
          enrollOwnersAtInit({
            io: ownerOpts.io,
            settings: ownerOpts.settings,
            clusterId: expectedId,
            policy: initPolicy,
            threshold: ownerOpts.threshold,
          }),
        (r) => `${r.owners.join(", ")}; anchor ${r.anchor}`,
      );
    }
    const { init, clusterId } = await initStep(o, s, {
      endpoint: initUrl,
      nodeName: first.name,
      waitForEndpointMs: MINI_TIMEOUTS.serviceStartMs,
      responseTimeoutMs: MINI_TIMEOUTS.initMs,
      ...(owners ? { owner: { pin: owners.pin, anchor: owners.anchor } } : {}),
    });
    const ownerLog = owners ? writeOwnerLog(ws, owners.entries) : undefined;

    // 4. KMS, join configuration, JoinService.
    await p.step(
      "KMS and JoinService",
      async () => {
        const pki = await createServicePki(ws.miniDir, s.now());
        const stateDb = join(ws.miniDir, "cluster-state.sqlite");
        const kms = await startKms(
          bins.kms,
          ws.miniDir,
          pki,
          ws.masterSecret,
          MINI_TIMEOUTS.serviceStartMs,
          owners ? { anchor: owners.anchor, stateDb } : undefined,
        );
        recorder.addService("kms", kms.record, kms.endpoint);
        recorder.update((st) => ({
          ...st,
          infrastructure: { ...st.infrastructure, clusterState: `sqlite:${stateDb}` },
        }));
        const state = openClusterState(`sqlite:${stateDb}`);
        try {
          // The owners' log and anchor go in first: the join configuration is only ever read under them.
          if (owners) await publishOwners(state, owners);
          await writeJoinConfig(state, {
            policy: initPolicy,
            measurementSalt: s.measurementSalt,
            kubernetesVersion: config.kubernetesVersion,
            components: [],
          });
        } finally {
          state.close();
        }
        const js = await startJoinService(
          bins["join-service"],
          ws.miniDir,
          {
            stateDb,
            pkiDir: join(first.runDir, "pki"),
            kmsEndpoint: kms.endpoint,
            servicePki: pki,
            metadataUrl: metadata.endpoint,
            apiServerEndpoint: `${LOOPBACK}:6443`,
            ...(owners ? { ownerAnchor: owners.anchor } : {}),
          },
          MINI_TIMEOUTS.serviceStartMs,
        );
        recorder.addService("join-service", js.record, js.endpoint);
        await mdClient.putInstance(token, first.name, {
          role: first.role,
          ips: [LOOPBACK],
          endpoints: { init: initUrl, join: js.endpoint },
        });
        return js;
      },
      (js) => js.endpoint,
    );

    // 5. Every node finishes: the first after init, the others after joining.
    await p.step(`Join ${nodes.length - 1} node(s)`, () =>
      Promise.all(nodes.map((n) => waitBootstrapped(n, bootstrappers.get(n.name)!, MINI_TIMEOUTS.joinMs))),
    );

    // 6. VerificationServices and a verify of every node.
    const verifyUrls = await p.step("VerificationServices", () =>
      Promise.all(
        nodes.map(async (n) => {
          const vs = await startVerificationService(n, env, MINI_TIMEOUTS.serviceStartMs);
          recorder.addNodeProcess(n.name, vs.record);
          recorder.setNodeEndpoint(n.name, "verify", vs.url);
          return { name: n.name, url: vs.url };
        }),
      ),
    );
    recorder.update((st) => ({
      ...st,
      infrastructure: { ...st.infrastructure, verifyEndpoints: verifyUrls.map((v) => v.url) },
    }));
    const policy = nodePolicy(config, clusterId);
    const verdicts = await verifyStep(o, verifyUrls, policy, { waitMs: 0 });
    return upResult(o, s, {
      kind: "processes",
      clusterId,
      nodes: nodes.map((n, i) => ({
        name: n.name,
        role: n.role,
        ips: [LOOPBACK],
        verifyUrl: verifyUrls[i]?.url ?? "",
      })),
      verdicts,
      policy,
      kubernetes: init.kubernetes,
      ...(ownerLog ? { files: { ownerLog } } : {}),
      ...(owners
        ? {
            owner: {
              anchor: owners.anchor,
              owners: owners.owners,
              threshold: owners.threshold,
              policyApprovedIn: owners.pin.head.sequence,
            },
          }
        : {}),
    });
  });
}
