/**
 * The state file (`asterism-state.yaml`, `version: v1`), in the spirit of Constellation's
 * `constellation-state.yaml` (reference/constellation.md §9.3): the infrastructure a cluster runs on, the
 * values init produced, and — for the local cluster — the processes and ports `mini status`/`mini down`
 * find it by. Mode 0600: it holds the init secret until init has used it.
 */
import { existsSync, readFileSync } from "node:fs";
import * as v from "valibot";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { WorkspaceError } from "./errors.ts";
import { writePrivateFileAtomic } from "./secret-file.ts";

export const STATE_VERSION = "v1";

const Hex = v.pipe(v.string(), v.regex(/^([0-9a-f]{2})*$/, "lower-case hex"));
/** `host:port` on loopback or any address the operator configured. */
const Endpoint = v.pipe(v.string(), v.regex(/^[^\s:]+:\d{1,5}$/, "host:port"));
const Pid = v.pipe(v.number(), v.integer(), v.minValue(1));

/**
 * A process started by `mini up`. `startTime` (field 22 of /proc/<pid>/stat) tells a recorded process
 * from a later one that reused its PID, so `mini down` never signals a stranger.
 */
export const ProcessRecordSchema = v.strictObject({
  name: v.string(),
  pid: Pid,
  startTime: v.string(),
  log: v.optional(v.string()),
});
export type ProcessRecord = v.InferOutput<typeof ProcessRecordSchema>;

/** One local-cluster node. */
export const MiniNodeSchema = v.strictObject({
  name: v.string(),
  role: v.picklist(["control-plane", "worker"]),
  ips: v.array(v.string()),
  dir: v.string(),
  /** swtpm command port (the control port is port + 1); absent for VM nodes (their swtpm is QEMU's). */
  tpmPort: v.optional(v.pipe(v.number(), v.integer())),
  /** Announced endpoints by purpose (`init`, `recovery`, `verify`): URLs. */
  endpoints: v.record(v.string(), v.pipe(v.string(), v.maxLength(256))),
  processes: v.array(ProcessRecordSchema),
  /** A QEMU node (`mini up --vm`): its VM directory (QMP socket, serial logs, disks) and forwards. */
  vm: v.optional(
    v.strictObject({
      dir: v.string(),
      serialLog: v.string(),
      /** Guest port → the 127.0.0.1 port QEMU forwards to it. */
      ports: v.record(v.pipe(v.string(), v.regex(/^\d{1,5}$/)), v.pipe(v.number(), v.integer())),
    }),
  ),
});
export type MiniNode = v.InferOutput<typeof MiniNodeSchema>;

/** The local cluster: where its files are and what runs. */
export const MiniStateSchema = v.strictObject({
  dir: v.string(),
  startedAt: v.string(),
  metadataUrl: v.optional(v.string()),
  /** The node image the VMs boot (`mini up --vm`); absent for a cluster of local processes. */
  image: v.optional(v.string()),
  nodes: v.array(MiniNodeSchema),
  /** Cluster-wide processes: metadata endpoint, KMS, JoinService. */
  services: v.array(
    v.strictObject({
      name: v.string(),
      endpoint: v.optional(v.pipe(v.string(), v.maxLength(256))),
      process: ProcessRecordSchema,
    }),
  ),
});
export type MiniState = v.InferOutput<typeof MiniStateSchema>;

export const StateSchema = v.strictObject({
  version: v.literal(STATE_VERSION),
  infrastructure: v.strictObject({
    uid: v.string(),
    name: v.string(),
    /** aTLS endpoint of the first control-plane node's bootstrapper (init, recovery). */
    clusterEndpoint: v.optional(Endpoint),
    /** VerificationService endpoints (host:port or URL) of all nodes; `verify --all` asks each. */
    verifyEndpoints: v.optional(v.array(v.pipe(v.string(), v.maxLength(256)))),
    /** Random, hex; the node checks it against the bcrypt hash in its instance metadata. */
    initSecret: v.optional(Hex),
    apiServerCertSANs: v.optional(v.array(v.string())),
    /** Where the cluster keeps its state objects (join config …): `sqlite:<path>` or `kube:<kubeconfig>`. */
    clusterState: v.optional(v.pipe(v.string(), v.maxLength(4096))),
  }),
  clusterValues: v.optional(
    v.strictObject({
      clusterID: Hex,
      ownerID: v.optional(Hex),
      measurementSalt: Hex,
      /**
       * Genesis hash of the owners' audit log (`init --owner`, `mini up --owner`): the anchor `audit
       * verify`, `console` and `owner …` pin when no `--anchor` is given.
       */
      ownerAnchor: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "64 lower-case hex digits"))),
    }),
  ),
  mini: v.optional(MiniStateSchema),
});
export type State = v.InferOutput<typeof StateSchema>;

/** Read the state file; undefined when there is none. */
export function readState(path: string): State | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = parseYaml(readFileSync(path, "utf8"), { maxAliasCount: 0 });
  } catch (cause) {
    throw new WorkspaceError("STATE_INVALID", `Cannot read state file ${path}`, { expected: "YAML", cause });
  }
  const r = v.safeParse(StateSchema, value);
  if (!r.success) {
    const i = r.issues[0];
    throw new WorkspaceError("STATE_INVALID", `Cannot read state file ${path}`, {
      expected: "asterism-state.yaml v1",
      actual: `${v.getDotPath(i) ?? "(root)"}: ${i.message}`,
    });
  }
  return r.output;
}

/** Read the state file or fail with STATE_INVALID saying what to run first. */
export function requireState(path: string, hint: string): State {
  const s = readState(path);
  if (!s) throw new WorkspaceError("STATE_INVALID", `No state file ${path}`, { expected: hint });
  return s;
}

/** Write the state file atomically, mode 0600. */
export function writeState(path: string, state: State): void {
  const checked = v.parse(StateSchema, state);
  writePrivateFileAtomic(
    path,
    `# Asterism cluster state. Written by the CLI; do not edit while a command runs.\n${stringifyYaml(checked)}`,
  );
}
