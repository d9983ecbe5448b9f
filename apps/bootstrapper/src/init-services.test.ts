// Init of a control plane that provisions its own KMS and JoinService (ASTERISM_CONTROL_PLANE_SERVICES=
// systemd), end to end on the host: the CLI's init client sends the policy it validated the node with as
// `joinPolicy` over real server-attested aTLS (swtpm evidence, PCR 15 = 0); the bootstrapper writes it
// into the cluster state it provisions on the "state disk" (a temp directory: there is no device-mapper
// here to map and mount a real one) and asks systemd to start the units (recorded). Without a usable
// joinPolicy the request is refused before the node lock, and the node stays usable.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AtlsServer, serveAttested } from "@asterism/atls";
import { type AttestationPolicy, createQemuVtpmValidator } from "@asterism/attestation";
import { fromUtf8, toHex } from "@asterism/bytes";
import { createInitSecretChecker, type KubernetesInstaller } from "@asterism/kubeadm";
import {
  bootLocalNode,
  createNodeIssuer,
  initCluster,
  LifecycleError,
  localImage,
  localImageMeasurements,
  measureNodeIdentity,
  NodeLock,
  type NodeTpm,
  openClusterState,
  openNodeTpm,
  parseJoinConfigObject,
  STATE_OBJECTS,
  serializePolicy,
} from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import type { MetadataClient } from "@asterism/metadata";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { createApp } from "./app.ts";
import { CONTROL_PLANE_UNITS, createControlPlaneServices } from "./control-plane-services.ts";
import { createNode } from "./node.ts";
import type { Status } from "./node-files.ts";
import type { StateDisk } from "./state-disk.ts";

setDefaultTimeout(20_000);

const IMAGE = localImage("init-services-test");
const IDENTITY = { name: "vm-control-plane-0", role: "control-plane" as const, ips: ["10.0.2.15"] };
const INIT_SECRET = new TextEncoder().encode("init-secret-for-the-services-test");
const MASTER = { key: new Uint8Array(32).fill(0x11), salt: new Uint8Array(32).fill(0x22) };
const SALT = new Uint8Array(32).fill(0x33);
const KUBERNETES = { version: "v1.31.13", components: [], serviceCidr: "10.96.0.0/12" };
/** What the CLI validates an uninitialized node with: the image's PCRs and PCR 15 = 0. */
const POLICY: AttestationPolicy = {
  variants: ["qemu-vtpm"],
  measurements: createMeasurements([
    ...localImageMeasurements(IMAGE),
    [15, { expected: new Uint8Array(32) }],
  ]),
};

let sw: SwtpmInstance;
let tpm: NodeTpm;
let hash: string;
let eventLog: Uint8Array;
const dirs: string[] = [];
const servers: AtlsServer[] = [];

beforeAll(async () => {
  sw = await startSwtpm();
  const firmwareLog = await bootLocalNode(sw, IMAGE);
  tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
  eventLog = await measureNodeIdentity(tpm, IDENTITY, firmwareLog);
  hash = await Bun.password.hash(INIT_SECRET, { algorithm: "bcrypt", cost: 4 });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await tpm?.close().catch(() => undefined);
  await sw?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const localInstaller = {
  install: async () => ({ performed: false, installed: [], skipped: [], note: "local cluster" }),
  runKubeadmInit: async () => ({ performed: false, note: "local cluster", output: "" }),
  runKubeadmJoin: async () => ({ performed: false, output: "" }),
} as unknown as KubernetesInstaller;

/** A control plane with provisioning into a temp "state disk", serving init over aTLS. */
async function controlPlane() {
  const stateDir = mkdtempSync(join(tmpdir(), "asterism-init-services-"));
  dirs.push(stateDir);
  const logger = createMemoryLogger();
  const started: (readonly string[])[] = [];
  const disk = { activations: 0, marked: false } as { activations: number; marked: boolean };
  const issuer = createNodeIssuer({ tpm, readEventLog: async () => eventLog });
  let status: Status = { phase: "waiting" };
  const lock = new NodeLock();
  const node = createNode({
    tpm,
    issuer,
    identity: IDENTITY,
    lock,
    disk: {
      activate: async () => {
        disk.activations++;
        return undefined;
      },
      markUninitialized: async () => {
        disk.marked = true;
      },
    } as unknown as StateDisk,
    diskState: { kind: "fresh", uuid: "12345678-1234-4234-8234-123456789abc" },
    installer: localInstaller,
    applyManifests: () => Promise.reject(new Error("no API server here")),
    metadata: {} as MetadataClient,
    initSecret: createInitSecretChecker(hash),
    runDir: join(stateDir, "run"),
    pkiDir: join(stateDir, "pki"),
    backoff: { baseMs: 10, capMs: 20 },
    joinTimeoutMs: 1000,
    logger,
    now: () => new Date(),
    onStatus: (s) => {
      status = s;
    },
    controlPlaneServices: createControlPlaneServices({
      stateDir,
      pkiDir: join(stateDir, "pki"),
      metadataUrl: "http://10.0.2.101:80",
      startUnits: async (units) => {
        started.push(units);
      },
      now: () => new Date(),
      logger,
    }),
  });
  node.activated.catch(() => undefined);
  const server = await serveAttested(
    createApp({ node, logger, metrics: new MetricsRegistry(), status: () => status }, "init"),
    { mode: "server-attested", issuer, host: "127.0.0.1", port: 0 },
  );
  servers.push(server);
  return { stateDir, logger, started, disk, lock, endpoint: `https://127.0.0.1:${server.port}` };
}

const init = (endpoint: string, joinPolicy?: AttestationPolicy) =>
  initCluster({
    endpoint,
    validators: [createQemuVtpmValidator({ policy: POLICY })],
    initSecret: INIT_SECRET,
    masterSecret: MASTER,
    measurementSalt: SALT,
    kubernetes: { ...KUBERNETES, controlPlaneEndpoint: "10.0.2.100:6443" },
    waitForEndpointMs: 2000,
    retryIntervalMs: 100,
    ...(joinPolicy ? { joinPolicy } : {}),
  });

describe("init provisions the control-plane services", () => {
  test("without a joinPolicy: refused (400 JOIN_POLICY_INVALID) before the lock; the node stays usable", async () => {
    const cp = await controlPlane();
    let caught: unknown;
    try {
      await init(cp.endpoint);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LifecycleError);
    expect((caught as LifecycleError).remoteCode).toBe("JOIN_POLICY_INVALID");
    expect(cp.lock.holder).toBeUndefined();
    expect(cp.disk.activations).toBe(0);
    expect(cp.started).toEqual([]);
  });

  test("with the policy the CLI validated: written into the cluster state, units started", async () => {
    const cp = await controlPlane();
    const out = await init(cp.endpoint, POLICY);
    expect(out.attestation).toBeDefined();
    expect(cp.disk.activations).toBe(1);
    expect(cp.started).toEqual([CONTROL_PLANE_UNITS]);
    const state = openClusterState(`sqlite:${join(cp.stateDir, "cluster-state.sqlite")}`);
    try {
      const cfg = parseJoinConfigObject((await state.get("config", STATE_OBJECTS.joinConfig))!);
      expect(fromUtf8(serializePolicy(cfg.policy))).toBe(fromUtf8(serializePolicy(POLICY)));
      expect(toHex(cfg.measurementSalt)).toBe(toHex(SALT));
    } finally {
      state.close();
    }
    const env = readFileSync(join(cp.stateDir, "services", "join-service.env"), "utf8");
    expect(env).toContain("ASTERISM_API_SERVER_ENDPOINT=10.0.2.100:6443\n");
    const logs = JSON.stringify(cp.logger.lines);
    expect(logs).toContain("services.started");
    for (const secret of [toHex(MASTER.key), Buffer.from(MASTER.key).toString("base64"), "PRIVATE KEY"])
      expect(logs.includes(secret)).toBe(false);
  });
});
