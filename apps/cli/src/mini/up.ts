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
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { toHex } from "@asterism/bytes";
import { openClusterState, writeJoinConfig } from "@asterism/lifecycle";
import { createMetadataClient } from "@asterism/metadata";
import { expectedClusterId, initFirstNode } from "../cluster/init.ts";
import { type EnrolledOwners, enrollOwnersAtInit, publishOwners, writeOwnerLog } from "../cluster/owners.ts";
import { nodePolicy } from "../cluster/policy.ts";
import { verifyNode } from "../cluster/verify-client.ts";
import type { CliIo } from "../command.ts";
import type { CeremonySettings } from "../commands/owner/ceremony.ts";
import type { Config } from "../config/schema.ts";
import type { Progress } from "../ui/progress.ts";
import { writeAdminKubeconfig } from "../workspace/kubeconfig.ts";
import {
  createMasterSecretFile,
  type MasterSecret,
  readMasterSecretFile,
} from "../workspace/master-secret.ts";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { readState, type State } from "../workspace/state.ts";
import { ensureBinaries } from "./binaries.ts";
import { stopMini } from "./down.ts";
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
import { isRunning } from "./processes.ts";
import { MiniRecorder } from "./recorder.ts";
import { createServicePki, startJoinService, startKms, startMetadataService } from "./services.ts";

/** Bounds of each wait; the whole `mini up` stays well under a minute on an idle machine. */
export const MINI_TIMEOUTS = {
  serviceStartMs: 20_000,
  initMs: 60_000,
  joinMs: 90_000,
} as const;

/** What `mini up` needs. */
export interface MiniUpOptions {
  readonly ws: WorkspacePaths;
  readonly config: Config;
  /** Directory of the config file (boot component paths are relative to it). */
  readonly configDir: string;
  readonly configPath: string;
  readonly controlPlanes: number;
  readonly workers: number;
  readonly binDir: string;
  readonly self: readonly string[];
  readonly progress: Progress;
  readonly now?: () => Date;
  readonly random?: (n: number) => Uint8Array;
  /** Leave processes running when a step fails (for debugging). */
  readonly keepOnFailure?: boolean;
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

/** One node in the summary. */
export interface MiniNodeSummary {
  readonly name: string;
  readonly role: "control-plane" | "worker";
  readonly ips: readonly string[];
  readonly verifyUrl: string;
  readonly verified: boolean;
  readonly detail: string;
}

/** What `mini up` reports. */
export interface MiniUpResult {
  readonly name: string;
  readonly clusterId: string;
  readonly nodes: readonly MiniNodeSummary[];
  readonly measurements: Readonly<Record<string, string>>;
  readonly kubernetes: { readonly performed: boolean; readonly note?: string };
  readonly files: Readonly<Record<string, string>>;
  readonly durationMs: number;
  /** With `--owner`: the anchor to pin, the owners, and the audit entry that approved the policy. */
  readonly owner?: {
    readonly anchor: string;
    readonly owners: readonly string[];
    readonly threshold: number;
    readonly policyApprovedIn: number;
  };
}

/** Printable init secrets: bcrypt hashes the bytes, the metadata shows only the hash. */
const INIT_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomInitSecret(random: (n: number) => Uint8Array): Uint8Array {
  // Rejection sampling keeps every character equally likely (62 does not divide 256).
  const out: number[] = [];
  while (out.length < 32) {
    for (const b of random(64)) {
      if (b < 248 && out.length < 32) out.push(INIT_SECRET_ALPHABET.charCodeAt(b % 62));
    }
  }
  return new Uint8Array(out);
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

function readOrCreateMasterSecret(
  path: string,
  random: (n: number) => Uint8Array,
): { secret: MasterSecret; created: boolean } {
  if (existsSync(path)) return { secret: readMasterSecretFile(path), created: false };
  return { secret: createMasterSecretFile(path, random), created: true };
}

/** Refuse to start over a running cluster or another (non-local) cluster's state; forget a dead local one. */
export function assertNotRunning(state: State | undefined, ws: WorkspacePaths): void {
  const mini = state?.mini;
  if (state && !mini) {
    throw new MiniError("ALREADY_RUNNING", `The workspace ${ws.dir} holds the state of another cluster`, {
      expected: "a workspace of its own for the local cluster (-C DIR)",
      actual: `state file ${ws.state}`,
    });
  }
  if (!mini) return;
  const alive = [...mini.services.map((s) => s.process), ...mini.nodes.flatMap((n) => n.processes)].filter(
    isRunning,
  );
  if (alive.length) {
    throw new MiniError("ALREADY_RUNNING", `A local cluster is running in ${ws.dir}`, {
      expected: "`asterism mini down` first",
      actual: `${alive.length} process(es) running`,
    });
  }
}

/** Bring the local cluster up. On failure every started process is stopped (unless keepOnFailure). */
export async function miniUp(o: MiniUpOptions): Promise<MiniUpResult> {
  const t0 = performance.now();
  const now = o.now ?? (() => new Date());
  const random = o.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const { ws, config, progress: p } = o;
  assertNotRunning(readState(ws.state), ws);

  const bins = await p.step("Service binaries", () =>
    ensureBinaries(o.binDir, (missing) => p.info(`building ${missing.join(", ")} (scripts/build.ts) …`)),
  );

  // A previous cluster's node files are useless (their disks were encrypted under its keys).
  rmSync(ws.miniDir, { recursive: true, force: true });
  mkdirSync(ws.miniDir, { recursive: true, mode: 0o700 });

  const { secret: master, created } = readOrCreateMasterSecret(ws.masterSecret, random);
  if (!created) p.info(`using the existing master secret ${relative(ws.dir, ws.masterSecret)}`);
  const initSecret = randomInitSecret(random);
  const measurementSalt = random(32);
  const uid = toHex(random(4));
  const recorder = new MiniRecorder(
    ws.state,
    {
      version: "v1",
      infrastructure: { uid, name: config.name, initSecret: toHex(initSecret) },
    },
    { dir: ws.miniDir, startedAt: now().toISOString() },
  );

  try {
    // 1. Metadata endpoint.
    const token = toHex(random(32));
    const metadata = await p.step(
      "Metadata endpoint",
      async () => {
        const md = await startMetadataService(o.self, ws.miniDir, token, MINI_TIMEOUTS.serviceStartMs);
        recorder.addService("metadata", md.record, md.endpoint);
        recorder.setMetadataUrl(md.endpoint);
        const hash = await Bun.password.hash(initSecret, { algorithm: "bcrypt", cost: 10 });
        await createMetadataClient({ url: md.endpoint }).setInitSecretHash(token, hash);
        return md;
      },
      (md) => md.endpoint,
    );
    const mdClient = createMetadataClient({ url: metadata.endpoint });

    // 2. Nodes: swtpm, measured boot, disk, registration, bootstrapper.
    const qemu = config.provider.qemu;
    if (!qemu) throw new MiniError("CONFIG_UNSUPPORTED", "mini up needs a qemu configuration");
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
      const clusterId = toHex(await expectedClusterId(master, measurementSalt));
      owners = await p.step(
        "Owners: enroll passkeys and approve the initial policy (browser)",
        () =>
          enrollOwnersAtInit({
            io: ownerOpts.io,
            settings: ownerOpts.settings,
            clusterId,
            policy: initPolicy,
            threshold: ownerOpts.threshold,
          }),
        (r) => `${r.owners.join(", ")}; anchor ${r.anchor}`,
      );
    }
    const init = await p.step(`Init ${first.name} over attested TLS`, () =>
      initFirstNode({
        ...(owners ? { owner: owners.pin } : {}),
        endpoint: initUrl,
        config,
        initSecret,
        masterSecret: master,
        measurementSalt,
        waitForEndpointMs: MINI_TIMEOUTS.serviceStartMs,
        retryIntervalMs: 250,
        responseTimeoutMs: MINI_TIMEOUTS.initMs,
        now,
      }),
    );
    const clusterId = toHex(init.clusterId);
    writeAdminKubeconfig(ws.adminConf, init.kubeconfig, true);
    recorder.update((s) => ({
      ...s,
      infrastructure: {
        ...s.infrastructure,
        uid,
        name: config.name,
        clusterEndpoint: new URL(initUrl).host,
        initSecret: undefined,
      },
      clusterValues: {
        clusterID: clusterId,
        measurementSalt: toHex(measurementSalt),
        ...(owners ? { ownerAnchor: owners.anchor } : {}),
      },
    }));
    const ownerLog = owners ? writeOwnerLog(ws, owners.entries) : undefined;

    // 4. KMS, join configuration, JoinService.
    await p.step(
      "KMS and JoinService",
      async () => {
        const pki = await createServicePki(ws.miniDir, now());
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
        recorder.update((s) => ({
          ...s,
          infrastructure: { ...s.infrastructure, clusterState: `sqlite:${stateDb}` },
        }));
        const state = openClusterState(`sqlite:${stateDb}`);
        try {
          // The owners' log and anchor go in first: the join configuration is only ever read under them.
          if (owners) await publishOwners(state, owners);
          await writeJoinConfig(state, {
            policy: initPolicy,
            measurementSalt,
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
          return [n.name, vs.url] as const;
        }),
      ),
    );
    recorder.update((s) => ({
      ...s,
      infrastructure: { ...s.infrastructure, verifyEndpoints: verifyUrls.map(([, u]) => u) },
    }));
    const policy = nodePolicy(config, init.clusterId);
    const verdicts = await p.step(`Verify ${nodes.length} node(s)`, async () => {
      const out = await Promise.all(verifyUrls.map(([, url]) => verifyNode({ url, policy, now })));
      const bad = out.filter((v) => !v.valid);
      if (bad.length) {
        throw new MiniError("START_FAILED", "A node of the new cluster does not verify", {
          actual: bad.map((b) => (b.valid ? "" : `${b.url}: ${b.message}`)).join("; "),
        });
      }
      return out;
    });

    const summaryNodes: MiniNodeSummary[] = nodes.map((n, i) => {
      const v = verdicts[i];
      return {
        name: n.name,
        role: n.role,
        ips: [LOOPBACK],
        verifyUrl: verifyUrls[i]?.[1] ?? "",
        verified: v?.valid === true,
        detail: v?.valid ? `${Object.keys(v.measurements).length} PCRs quoted` : (v?.message ?? ""),
      };
    });
    return {
      name: config.name,
      clusterId,
      nodes: summaryNodes,
      measurements: Object.fromEntries([...policy.measurements].map(([i, m]) => [String(i), m.expected])),
      kubernetes: init.kubernetes,
      files: {
        config: o.configPath,
        state: ws.state,
        masterSecret: ws.masterSecret,
        adminKubeconfig: ws.adminConf,
        nodes: join(ws.miniDir, "nodes"),
        ...(ownerLog ? { ownerLog } : {}),
      },
      durationMs: Math.round(performance.now() - t0),
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
    };
  } catch (err) {
    if (!o.keepOnFailure) {
      p.info("stopping what was started (use --keep-on-failure to inspect it) …");
      await stopMini(ws, { removeFiles: false });
    }
    throw err;
  }
}
