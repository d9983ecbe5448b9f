/**
 * The init phase of `init` and `apply` against a configured endpoint: everything is checked before the
 * one-shot init request is sent (a second init is refused by the node), and the results are written
 * right after it.
 */
import { existsSync, readFileSync } from "node:fs";
import { fromHex, toHex } from "@asterism/bytes";
import { describeError } from "@asterism/errors";
import { openClusterState } from "@asterism/lifecycle";
import type { CliIo } from "../command.ts";
import type { CeremonySettings } from "../commands/owner/ceremony.ts";
import type { Config } from "../config/schema.ts";
import type { Progress } from "../ui/progress.ts";
import { UsageError } from "../usage-error.ts";
import { WorkspaceError } from "../workspace/errors.ts";
import { writeAdminKubeconfig } from "../workspace/kubeconfig.ts";
import { createMasterSecretFile, readMasterSecretFile } from "../workspace/master-secret.ts";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { readState, type State, writeState } from "../workspace/state.ts";
import { ClusterError } from "./errors.ts";
import { expectedClusterId, initFirstNode } from "./init.ts";
import { type EnrolledOwners, enrollOwnersAtInit, publishOwners, writeOwnerLog } from "./owners.ts";
import { nodePolicy } from "./policy.ts";
import { toUrl } from "./targets.ts";

/** What the init phase needs besides the workspace. */
export interface InitPhaseOptions {
  readonly ws: WorkspacePaths;
  readonly config: Config;
  /** `host:port` or URL; default: the state file's clusterEndpoint. */
  readonly endpoint?: string;
  /** File holding the init secret; default: the state file's initSecret. */
  readonly initSecretFile?: string;
  readonly progress: Progress;
  readonly random?: (n: number) => Uint8Array;
  readonly waitForEndpointMs?: number;
  /**
   * `--owner` (docs/owner.md "At init"): the owners enroll and approve the initial policy in a browser
   * before init; the node records their anchor; afterwards their log and the anchor object go into the
   * cluster state (`clusterState`, else the state file's, else the new cluster's own API server through
   * the admin kubeconfig, namespace asterism-system, where the manifests read the anchor from).
   */
  readonly owner?: {
    readonly threshold: number;
    readonly settings: CeremonySettings;
    readonly io: CliIo;
    readonly clusterState?: string;
  };
}

/** What init produced. */
export interface InitPhaseResult {
  readonly clusterId: string;
  readonly endpoint: string;
  readonly kubeconfig: string;
  readonly kubernetes: { readonly performed: boolean; readonly note?: string };
  readonly masterSecretCreated: boolean;
  /** With `owner`: the anchor to pin, where the log went, and the entry that approved the policy. */
  readonly owner?: {
    readonly anchor: string;
    readonly owners: readonly string[];
    readonly threshold: number;
    readonly policyApprovedIn: number;
    readonly clusterState: string;
    readonly logFile: string;
  };
}

function initSecretFrom(o: InitPhaseOptions, state: State | undefined): Uint8Array {
  if (o.initSecretFile !== undefined) {
    try {
      return new Uint8Array(readFileSync(o.initSecretFile)).subarray(0, 72);
    } catch (cause) {
      throw new UsageError("UNREADABLE_INPUT", `Cannot read the init secret ${o.initSecretFile}`, { cause });
    }
  }
  const hex = state?.infrastructure.initSecret;
  if (hex === undefined) {
    throw new UsageError("MISSING_OPTION", "No init secret", {
      expected: "--init-secret-file FILE, or a state file with infrastructure.initSecret",
    });
  }
  return fromHex(hex);
}

/** Run the init phase. Refuses an initialized workspace and an existing admin kubeconfig up front. */
export async function runInitPhase(o: InitPhaseOptions): Promise<InitPhaseResult> {
  const random = o.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n)));
  const state = readState(o.ws.state);
  if (state?.clusterValues) {
    throw new WorkspaceError(
      "FILE_EXISTS",
      `The workspace ${o.ws.dir} already holds an initialized cluster`,
      {
        expected: "a workspace without cluster values (one workspace per cluster)",
        actual: `cluster ID ${state.clusterValues.clusterID}`,
      },
    );
  }
  const addr = o.endpoint ?? state?.infrastructure.clusterEndpoint;
  if (addr === undefined) {
    throw new ClusterError("NO_ENDPOINT", "Nothing to initialize", {
      expected: "--endpoint HOST:PORT or a state file with infrastructure.clusterEndpoint",
    });
  }
  // Checked before the one-shot request: after init the kubeconfig must be writable.
  if (existsSync(o.ws.adminConf)) {
    throw new WorkspaceError("FILE_EXISTS", `Refusing to overwrite the admin kubeconfig ${o.ws.adminConf}`, {
      expected: "no admin kubeconfig (move the old one away)",
    });
  }
  const initSecret = initSecretFrom(o, state);
  const created = !existsSync(o.ws.masterSecret);
  const master = created
    ? createMasterSecretFile(o.ws.masterSecret, random)
    : readMasterSecretFile(o.ws.masterSecret);
  const measurementSalt = random(32);
  const endpoint = toUrl(addr, "https");
  // --owner: enrollment and the initial policy's approval come first; nothing reaches the node before.
  const ownerOpts = o.owner;
  let owners: EnrolledOwners | undefined;
  if (ownerOpts) {
    const clusterId = toHex(await expectedClusterId(master, measurementSalt));
    owners = await o.progress.step(
      "Owners: enroll passkeys and approve the initial policy (browser)",
      () =>
        enrollOwnersAtInit({
          io: ownerOpts.io,
          settings: ownerOpts.settings,
          clusterId,
          policy: nodePolicy(o.config, undefined),
          threshold: ownerOpts.threshold,
        }),
      (r) => `${r.owners.join(", ")}; anchor ${r.anchor}`,
    );
  }
  const result = await o.progress.step(`Init ${endpoint} over attested TLS`, () =>
    initFirstNode({
      ...(owners ? { owner: owners.pin } : {}),
      endpoint,
      config: o.config,
      initSecret,
      masterSecret: master,
      measurementSalt,
      ...(o.waitForEndpointMs !== undefined ? { waitForEndpointMs: o.waitForEndpointMs } : {}),
    }),
  );
  const clusterId = toHex(result.clusterId);
  writeAdminKubeconfig(o.ws.adminConf, result.kubeconfig);
  const base: State = state ?? {
    version: "v1",
    infrastructure: { uid: toHex(random(4)), name: o.config.name },
  };
  const clusterState = owners
    ? (ownerOpts?.clusterState ??
      base.infrastructure.clusterState ??
      `kube:${o.ws.adminConf}#asterism-system`)
    : undefined;
  writeState(o.ws.state, {
    ...base,
    infrastructure: {
      ...base.infrastructure,
      clusterEndpoint: new URL(endpoint).host,
      initSecret: undefined,
      ...(clusterState ? { clusterState } : {}),
    },
    clusterValues: {
      clusterID: clusterId,
      measurementSalt: toHex(measurementSalt),
      ...(owners ? { ownerAnchor: owners.anchor } : {}),
    },
  });
  const out = {
    clusterId,
    endpoint,
    kubeconfig: o.ws.adminConf,
    kubernetes: result.kubernetes,
    masterSecretCreated: created,
  };
  if (!owners || clusterState === undefined) return out;
  // Everything local is written; now the owners go into the cluster state, before any join config.
  const logFile = writeOwnerLog(o.ws, owners.entries);
  const published = owners;
  await o.progress.step("Owners' log and anchor into the cluster state", async () => {
    let cs: ReturnType<typeof openClusterState> | undefined;
    try {
      cs = openClusterState(clusterState);
      await publishOwners(cs, published);
    } catch (cause) {
      throw new ClusterError(
        "OWNERS_NOT_PUBLISHED",
        "The cluster is initialized, but its owners are not in its state yet",
        {
          expected: `the owners' log in ${clusterState.split("#")[0]} (saved in ${logFile}; \`asterism apply\` writes it)`,
          actual: describeError(cause).slice(0, 300),
          cause,
        },
      );
    } finally {
      cs?.close();
    }
  });
  return {
    ...out,
    owner: {
      anchor: owners.anchor,
      owners: owners.owners,
      threshold: owners.threshold,
      policyApprovedIn: owners.pin.head.sequence,
      clusterState,
      logFile,
    },
  };
}
