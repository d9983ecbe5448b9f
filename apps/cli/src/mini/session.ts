/**
 * What every `mini up` does the same way, whether its nodes are local processes (up.ts) or QEMU VMs
 * booted from the node image (vm-up.ts): the secrets and the state record, the metadata endpoint, the
 * init of the first control plane over attested TLS, the verify of every node, the summary, and
 * stopping everything that was started when a step fails.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import type { OwnerPinWire } from "@asterism/api";
import type { AttestationPolicy } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import type { InitClusterResult } from "@asterism/lifecycle";
import { createMetadataClient, type MetadataClient } from "@asterism/metadata";
import { ClusterError } from "../cluster/errors.ts";
import { initFirstNode } from "../cluster/init.ts";
import { type NodeVerdict, verifyNode } from "../cluster/verify-client.ts";
import type { Config } from "../config/schema.ts";
import type { Progress } from "../ui/progress.ts";
import { writeAdminKubeconfig } from "../workspace/kubeconfig.ts";
import {
  createMasterSecretFile,
  type MasterSecret,
  readMasterSecretFile,
} from "../workspace/master-secret.ts";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { type MiniState, readState, type State } from "../workspace/state.ts";
import { stopMini } from "./down.ts";
import { MiniError } from "./errors.ts";
import { waitFor } from "./ports.ts";
import { isRunning } from "./processes.ts";
import { MiniRecorder } from "./recorder.ts";
import { startMetadataService } from "./services.ts";

/** What every `mini up` needs. */
export interface MiniCommonOptions {
  readonly ws: WorkspacePaths;
  readonly config: Config;
  readonly configPath: string;
  /** The argv prefix that runs this CLI again (the metadata endpoint runs as `asterism mini metadata-server`). */
  readonly self: readonly string[];
  readonly progress: Progress;
  readonly now?: () => Date;
  readonly random?: (n: number) => Uint8Array;
  /** Leave everything running when a step fails (for debugging). */
  readonly keepOnFailure?: boolean;
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
  /** `processes` (local processes with simulated firmware) or `vm` (QEMU guests from the node image). */
  readonly kind: "processes" | "vm";
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

/** The secrets and the state record of one `mini up` run. */
export interface MiniSession {
  readonly t0: number;
  readonly now: () => Date;
  readonly random: (n: number) => Uint8Array;
  readonly master: MasterSecret;
  readonly initSecret: Uint8Array;
  readonly measurementSalt: Uint8Array;
  readonly uid: string;
  readonly recorder: MiniRecorder;
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

/**
 * Start a run: refuse a running cluster, clear the previous local cluster's files (its disks were
 * encrypted under its keys), reuse or create the master secret (never overwritten), draw the init
 * secret and the measurement salt, and write the state record that every later step extends.
 */
export function beginMini(o: MiniCommonOptions, extra: Pick<MiniState, "image"> = {}): MiniSession {
  const t0 = performance.now();
  const now = o.now ?? (() => new Date());
  const random = o.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const { ws } = o;
  assertNotRunning(readState(ws.state), ws);
  rmSync(ws.miniDir, { recursive: true, force: true });
  mkdirSync(ws.miniDir, { recursive: true, mode: 0o700 });
  const { secret: master, created } = readOrCreateMasterSecret(ws.masterSecret, random);
  if (!created) o.progress.info(`using the existing master secret ${relative(ws.dir, ws.masterSecret)}`);
  const initSecret = randomInitSecret(random);
  const measurementSalt = random(32);
  const uid = toHex(random(4));
  const recorder = new MiniRecorder(
    ws.state,
    { version: "v1", infrastructure: { uid, name: o.config.name, initSecret: toHex(initSecret) } },
    { dir: ws.miniDir, startedAt: now().toISOString(), ...extra },
  );
  return { t0, now, random, master, initSecret, measurementSalt, uid, recorder };
}

/** Run the steps of `mini up`; on failure stop everything the state file records (unless keepOnFailure). */
export async function runMini<T>(o: MiniCommonOptions, steps: () => Promise<T>): Promise<T> {
  try {
    return await steps();
  } catch (err) {
    if (!o.keepOnFailure) {
      o.progress.info("stopping what was started (use --keep-on-failure to inspect it) …");
      await stopMini(o.ws, { removeFiles: false });
    }
    throw err;
  }
}

/** The running metadata endpoint and the launcher's credential for it. */
export interface MiniMetadata {
  readonly endpoint: string;
  readonly client: MetadataClient;
  /** The launcher token: only it may register instances. */
  readonly token: string;
}

/** Start the metadata endpoint (recorded at once) and give it the init secret's bcrypt hash. */
export async function startMetadataStep(
  o: MiniCommonOptions,
  s: MiniSession,
  startTimeoutMs: number,
): Promise<MiniMetadata> {
  const token = toHex(s.random(32));
  return await o.progress.step(
    "Metadata endpoint",
    async () => {
      const md = await startMetadataService(o.self, o.ws.miniDir, token, startTimeoutMs);
      s.recorder.addService("metadata", md.record, md.endpoint);
      s.recorder.setMetadataUrl(md.endpoint);
      const client = createMetadataClient({ url: md.endpoint });
      const hash = await Bun.password.hash(s.initSecret, { algorithm: "bcrypt", cost: 10 });
      await client.setInitSecretHash(token, hash);
      return { endpoint: md.endpoint, client, token };
    },
    (md) => md.endpoint,
  );
}

/** How {@link initStep} reaches the node. */
export interface InitStepOptions {
  /** `https://host:port` of the first control plane's init endpoint, as this host reaches it. */
  readonly endpoint: string;
  readonly nodeName: string;
  /**
   * The policy the node must meet with PCR 15 = 0, also sent as the init request's `joinPolicy` (a VM
   * node provisions its JoinService with it). Default: the configured measurements.
   */
  readonly policy?: AttestationPolicy;
  /** `host:port` of the API server as the nodes reach it (VM clusters: control-plane-0 at 10.0.2.100). */
  readonly controlPlaneEndpoint?: string;
  readonly waitForEndpointMs: number;
  readonly responseTimeoutMs: number;
  /** With `--owner`: the owners' pin the node records (their anchor and the log head approving the policy). */
  readonly owner?: { readonly pin: OwnerPinWire; readonly anchor: string };
  /** Injected in tests; default {@link initFirstNode}. */
  readonly initFirstNode?: typeof initFirstNode;
}

/**
 * Init the first control plane over attested TLS (it must show the configured boot and PCR 15 = 0
 * before the master secret leaves), then record the cluster ID and salt, the cluster endpoint and the
 * admin kubeconfig, and drop the init secret from the state file.
 */
export async function initStep(
  o: MiniCommonOptions,
  s: MiniSession,
  i: InitStepOptions,
): Promise<{ init: InitClusterResult; clusterId: Uint8Array }> {
  const init = await o.progress.step(`Init ${i.nodeName} over attested TLS`, () =>
    (i.initFirstNode ?? initFirstNode)({
      endpoint: i.endpoint,
      config: o.config,
      initSecret: s.initSecret,
      masterSecret: s.master,
      measurementSalt: s.measurementSalt,
      waitForEndpointMs: i.waitForEndpointMs,
      retryIntervalMs: 250,
      responseTimeoutMs: i.responseTimeoutMs,
      now: s.now,
      ...(i.policy ? { policy: i.policy } : {}),
      ...(i.controlPlaneEndpoint ? { controlPlaneEndpoint: i.controlPlaneEndpoint } : {}),
      ...(i.owner ? { owner: i.owner.pin } : {}),
    }),
  );
  writeAdminKubeconfig(o.ws.adminConf, init.kubeconfig, true);
  s.recorder.update((st) => ({
    ...st,
    infrastructure: {
      ...st.infrastructure,
      clusterEndpoint: new URL(i.endpoint).host,
      initSecret: undefined,
    },
    clusterValues: {
      clusterID: toHex(init.clusterId),
      measurementSalt: toHex(s.measurementSalt),
      ...(i.owner ? { ownerAnchor: i.owner.anchor } : {}),
    },
  }));
  return { init, clusterId: init.clusterId };
}

/** How long {@link verifyStep} keeps asking a node that does not answer yet. */
export interface VerifyWait {
  /** 0: ask once. A VM node's VerificationService only starts once the node is activated. */
  readonly waitMs: number;
  readonly intervalMs?: number;
  /** Injected in tests; default {@link verifyNode}. */
  readonly verify?: typeof verifyNode;
  /** Where to look when a node never answers (its console log), for the error message. */
  readonly logOf?: (name: string) => string | undefined;
}

/**
 * Verify every node (fresh nonce, the policy with PCR 15 = cluster ID). A node that cannot be asked yet
 * is asked again until `waitMs` has passed; an answer that does not verify fails at once (a node's
 * PCRs do not change while it runs) and names the failing PCRs.
 */
export async function verifyStep(
  o: Pick<MiniCommonOptions, "progress" | "now">,
  nodes: readonly { readonly name: string; readonly url: string }[],
  policy: AttestationPolicy,
  w: VerifyWait,
): Promise<NodeVerdict[]> {
  const verify = w.verify ?? verifyNode;
  const now = o.now;
  return await o.progress.step(`Verify ${nodes.length} node(s)`, async () => {
    const out = await Promise.all(
      nodes.map(async (n) => {
        let last: unknown;
        const verdict = await waitFor(
          async () => {
            try {
              return await verify({ url: n.url, policy, ...(now ? { now } : {}) });
            } catch (err) {
              if (!(err instanceof ClusterError)) throw err;
              last = err;
              return undefined;
            }
          },
          { timeoutMs: w.waitMs, intervalMs: w.intervalMs ?? 2000 },
        );
        if (verdict) return verdict;
        const log = w.logOf?.(n.name);
        throw new MiniError("TIMEOUT", `Node ${n.name} did not answer a verify`, {
          expected: `its VerificationService at ${n.url} within ${Math.round(w.waitMs / 1000)} s`,
          actual: `${last instanceof ClusterError ? last.message : "no answer"}${log ? `; see ${log}` : ""}`,
        });
      }),
    );
    const bad = out.filter((v) => !v.valid);
    if (bad.length) {
      throw new MiniError("START_FAILED", "A node of the new cluster does not verify", {
        actual: bad.map((b) => (b.valid ? "" : `${b.url}: ${b.message}`)).join("; "),
      });
    }
    return out;
  });
}

/** The summary of a cluster that is up. */
export function upResult(
  o: MiniCommonOptions,
  s: MiniSession,
  r: {
    readonly kind: MiniUpResult["kind"];
    readonly clusterId: Uint8Array;
    readonly nodes: readonly Omit<MiniNodeSummary, "verified" | "detail">[];
    readonly verdicts: readonly NodeVerdict[];
    readonly policy: AttestationPolicy;
    readonly kubernetes: MiniUpResult["kubernetes"];
    readonly files?: Readonly<Record<string, string>>;
    readonly owner?: MiniUpResult["owner"];
  },
): MiniUpResult {
  return {
    name: o.config.name,
    clusterId: toHex(r.clusterId),
    kind: r.kind,
    nodes: r.nodes.map((n, i) => {
      const v = r.verdicts[i];
      return {
        ...n,
        verified: v?.valid === true,
        detail: v?.valid ? `${Object.keys(v.measurements).length} PCRs quoted` : (v?.message ?? ""),
      };
    }),
    measurements: Object.fromEntries([...r.policy.measurements].map(([i, m]) => [String(i), m.expected])),
    kubernetes: r.kubernetes,
    files: {
      config: o.configPath,
      state: o.ws.state,
      masterSecret: o.ws.masterSecret,
      adminKubeconfig: o.ws.adminConf,
      nodes: join(o.ws.miniDir, "nodes"),
      ...r.files,
    },
    durationMs: Math.round(performance.now() - s.t0),
    ...(r.owner ? { owner: r.owner } : {}),
  };
}
