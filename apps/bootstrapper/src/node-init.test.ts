// The init flow's manifest step (node.ts + cluster-manifests.ts): after kubeadm init the variant's overlay
// is server-side-applied with the admin credentials, then kubeadm's bootstrap-token CSR auto-approval
// binding is deleted; a failed apply fails init with a coded error and
// leaks nothing; with the local installer the step is skipped and the answer says so. Real swtpm (PCR 15),
// real cluster PKI and admin kubeconfig; the API server is tests/kube-apiserver, reached with the test
// PKI (the node's freshly made CA is not the test server's).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InitRequestSchema } from "@asterism/api";
import type { Issuer } from "@asterism/attestation";
import { parseMasterSecret } from "@asterism/keys";
import { createKubeClient, getObject, type KubeClient } from "@asterism/kube-apply";
import { createInitSecretChecker, type KubernetesInstaller } from "@asterism/kubeadm";
import {
  bootLocalNode,
  localImage,
  NodeLock,
  type NodeTpm,
  openNodeTpm,
  parseJoinConfigObject,
  STATE_OBJECTS,
} from "@asterism/lifecycle";
import type { MetadataClient } from "@asterism/metadata";
import { createMemoryLogger } from "@asterism/service";
import { kubernetesState } from "@asterism/state";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import * as v from "valibot";
import {
  createTestPki,
  seedKubeadmCsrBindings,
  startTestApiServer,
  type TestApiServer,
  type TestPki,
} from "../../../tests/kube-apiserver/index.ts";
import { createManifestApplier, embeddedManifests } from "./cluster-manifests.ts";
import { BootstrapperError } from "./errors.ts";
import { KUBEADM_BOOTSTRAP_AUTOAPPROVE, KUBEADM_ROTATION_AUTOAPPROVE } from "./kubeadm-rbac.ts";
import { createNode } from "./node.ts";
import type { StateDisk } from "./state-disk.ts";

setDefaultTimeout(30_000);

const INIT_SECRET = "init-secret-for-the-manifest-step";
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const MASTER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);

let sw: SwtpmInstance;
let tpm: NodeTpm;
let pki: TestPki;
let api: TestApiServer;
let refusing: TestApiServer;
let hash: string;
const dirs: string[] = [];

beforeAll(async () => {
  sw = await startSwtpm();
  await bootLocalNode(sw, localImage("node-init-test"));
  tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
  pki = createTestPki();
  api = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
  });
  refusing = await startTestApiServer({ token: "a-token-the-node-does-not-have" });
  hash = await Bun.password.hash(INIT_SECRET, { algorithm: "bcrypt", cost: 4 });
});
afterAll(async () => {
  await tpm?.close().catch(() => undefined);
  await sw?.stop();
  await api?.stop();
  await refusing?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const initRequest = (extra: Record<string, unknown> = {}) =>
  v.parse(InitRequestSchema, {
    ...extra,
    initSecret: b64(new TextEncoder().encode(INIT_SECRET)),
    masterSecret: { key: b64(MASTER_KEY), salt: b64(new Uint8Array(32).fill(2)) },
    measurementSalt: b64(new Uint8Array(32).fill(3)),
    kubernetesVersion: "v1.31.13",
    kubernetesComponents: [],
    serviceCidr: "10.96.0.0/12",
  });

const installer = (kubeadmRuns: boolean): KubernetesInstaller =>
  ({
    install: async () => ({ performed: kubeadmRuns, installed: [], skipped: [] }),
    runKubeadmInit: async () =>
      kubeadmRuns ? { performed: true, output: "" } : { performed: false, note: "local cluster", output: "" },
    runKubeadmJoin: async () => ({ performed: false, output: "" }),
  }) as unknown as KubernetesInstaller;

function testNode(opts: { kubeadmRuns: boolean; connect: () => KubeClient; state?: string }) {
  const runDir = mkdtempSync(join(tmpdir(), "asterism-node-init-"));
  dirs.push(runDir);
  const logger = createMemoryLogger();
  const disk = { marked: false, activate: async () => {}, markUninitialized: async () => {} };
  disk.markUninitialized = async () => {
    disk.marked = true;
  };
  let applyCalls = 0;
  const apply = createManifestApplier({
    variant: "qemu-vtpm",
    logger,
    connect: opts.connect,
    connectState: () => adminState(opts.state),
    attempts: 2,
    delayMs: 1,
  });
  const node = createNode({
    tpm,
    issuer: {} as Issuer,
    identity: { name: "cp-0", role: "control-plane", ips: ["127.0.0.1"] },
    lock: new NodeLock(),
    disk: disk as unknown as StateDisk,
    diskState: { kind: "fresh", uuid: "12345678-1234-1234-1234-123456789abc" },
    installer: installer(opts.kubeadmRuns),
    applyManifests: (kubeconfig, services) => {
      applyCalls++;
      return apply(kubeconfig, services);
    },
    metadata: {} as MetadataClient,
    initSecret: createInitSecretChecker(hash),
    runDir,
    pkiDir: join(runDir, "pki"),
    backoff: { baseMs: 10, capMs: 20 },
    joinTimeoutMs: 1000,
    logger,
    now: () => new Date(),
    onStatus: () => {},
  });
  node.activated.catch(() => undefined);
  return { node, logger, disk, applyCalls: () => applyCalls };
}

const adminClient = () =>
  createKubeClient({ server: api.url, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
/** The test API server's asterism-system as cluster state (the node's own kubeconfig names its own CA). */
function adminState(server = api.url) {
  return kubernetesState({
    server,
    namespace: "asterism-system",
    ca: pki.ca,
    cert: pki.clientCert,
    key: pki.clientKey,
  });
}

describe("init applies the cluster manifests", () => {
  test("kubeadm ran: every object of the qemu overlay is in the API server before init answers", async () => {
    const t = testNode({ kubeadmRuns: true, connect: adminClient });
    const out = await t.node.init(initRequest());
    expect(out.kubernetes).toEqual({ performed: true });
    expect(t.applyCalls()).toBe(1);
    for (const o of embeddedManifests("qemu-vtpm")) {
      const stored = await getObject(adminClient(), {
        apiVersion: o.apiVersion,
        kind: o.kind,
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
        name: o.metadata.name,
      });
      expect(stored?.metadata.name).toBe(o.metadata.name);
    }
    expect(t.logger.lines.find((l) => l["msg"] === "node.manifests_applied")?.["objects"]).toBe(
      embeddedManifests("qemu-vtpm").length,
    );
    // The objects the manifests reference, from the init request (cluster-objects.ts).
    const get = (kind: string, name: string) =>
      getObject(adminClient(), { apiVersion: "v1", kind, namespace: "asterism-system", name });
    for (const name of ["kms-tls", "join-service-kms-client-tls", "kms-master-secret"])
      expect((await get("Secret", name))?.metadata.name).toBe(name);
    const master = (await get("Secret", "kms-master-secret")) as unknown as { data: Record<string, string> };
    const parsed = parseMasterSecret(Buffer.from(master.data["master-secret.json"] ?? "", "base64"));
    expect(parsed.key).toEqual(MASTER_KEY);
    const settings = (await get("ConfigMap", "join-service-config")) as unknown as {
      data: Record<string, string>;
    };
    expect(settings.data["api-server-endpoint"]).toBe("127.0.0.1:6443");
    const logs = JSON.stringify(t.logger.lines);
    for (const secret of [b64(MASTER_KEY), "PRIVATE KEY"]) expect(logs.includes(secret)).toBe(false);
  });

  test("kubeadm ran: its bootstrap-token CSR auto-approval binding is gone before init answers; self-renewal stays", async () => {
    await seedKubeadmCsrBindings(adminClient());
    const binding = (name: string) =>
      getObject(adminClient(), {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        name,
      });
    expect(await binding(KUBEADM_BOOTSTRAP_AUTOAPPROVE)).toBeDefined();
    const t = testNode({ kubeadmRuns: true, connect: adminClient });
    await t.node.init(initRequest());
    expect(await binding(KUBEADM_BOOTSTRAP_AUTOAPPROVE)).toBeUndefined();
    expect(await binding(KUBEADM_ROTATION_AUTOAPPROVE)).toBeDefined();
    const msgs = t.logger.lines.map((l) => l["msg"]);
    expect(msgs.indexOf("manifests.kubeadm_autoapprove_removed")).toBeGreaterThan(
      msgs.indexOf("manifests.applied"),
    );
  });

  test("the apply fails: init fails with INIT_FAILED, the cause is logged coded, nothing secret is", async () => {
    const t = testNode({
      kubeadmRuns: true,
      connect: () => createKubeClient({ server: refusing.url }),
    });
    const req = initRequest();
    let caught: unknown;
    try {
      await t.node.init(req);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BootstrapperError);
    expect((caught as BootstrapperError).code).toBe("INIT_FAILED");
    expect(t.disk.marked).toBe(true);
    const logs = JSON.stringify(t.logger.lines);
    expect(logs).toContain("MANIFESTS_APPLY_FAILED");
    for (const secret of [
      INIT_SECRET,
      b64(MASTER_KEY),
      Buffer.from(MASTER_KEY).toString("hex"),
      "PRIVATE KEY",
    ])
      expect(logs.includes(secret)).toBe(false);
    expect((caught as Error).message).not.toContain("PRIVATE KEY");
  });

  test("with the request's joinPolicy: the join configuration is in cluster state when init answers", async () => {
    const api2 = await startTestApiServer({
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
    });
    try {
      const client = () =>
        createKubeClient({ server: api2.url, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
      const t = testNode({ kubeadmRuns: true, connect: client, state: api2.url });
      const policy = { measurements: { "4": { expected: "44".repeat(32), warnOnly: false } } };
      await t.node.init(initRequest({ joinPolicy: policy }));
      const state = kubernetesState({
        server: api2.url,
        namespace: "asterism-system",
        ca: pki.ca,
        cert: pki.clientCert,
        key: pki.clientKey,
      });
      const stored = await state.get("config", STATE_OBJECTS.joinConfig);
      if (stored === undefined) throw new Error("no join configuration");
      expect(parseJoinConfigObject(stored).policy.measurements.get(4)?.expected).toBe("44".repeat(32));
      expect(parseJoinConfigObject(stored).measurementSalt).toEqual(new Uint8Array(32).fill(3));
    } finally {
      await api2.stop();
    }
  });

  test("an unusable joinPolicy is refused before the lock (JOIN_POLICY_INVALID), nothing is applied", async () => {
    const t = testNode({ kubeadmRuns: true, connect: adminClient });
    let caught: unknown;
    try {
      // PCR 15 alone: would admit a node running anything.
      await t.node.init(
        initRequest({
          joinPolicy: { measurements: { "15": { expected: "00".repeat(32), warnOnly: false } } },
        }),
      );
    } catch (err) {
      caught = err;
    }
    expect((caught as BootstrapperError).code).toBe("JOIN_POLICY_INVALID");
    expect(t.applyCalls()).toBe(0);
    expect(t.disk.marked).toBe(false);
  });

  test("local cluster (kubeadm not run): the step is skipped and the answer says so", async () => {
    const t = testNode({
      kubeadmRuns: false,
      connect: () => {
        throw new Error("must not connect");
      },
    });
    const out = await t.node.init(initRequest());
    expect(t.applyCalls()).toBe(0);
    expect(out.kubernetes.performed).toBe(false);
    expect(out.kubernetes.note).toContain("local cluster");
    expect(out.kubernetes.note).toContain("cluster manifests (k8s/) not applied");
    expect(t.logger.lines.some((l) => l["msg"] === "node.manifests_skipped")).toBe(true);
  });
});
