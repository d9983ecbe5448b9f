/**
 * The node lifecycle end to end with real processes (docs/lifecycle.md): one control plane and two
 * workers, each with its own swtpm and LUKS2 image; the CLI-side init client; the KMS, JoinService and
 * VerificationService as processes; SQLite cluster state. Init, join, rejoin, verify and recovery, and the
 * refusals Constellation got wrong.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AttestationPolicy, createQemuVtpmValidator } from "@asterism/attestation";
import { fromUtf8, toBase64, toHex } from "@asterism/bytes";
import { Luks2, systemCryptsetup } from "@asterism/disk";
import { isAsterismError } from "@asterism/errors";
import { deriveClusterId, deriveKey } from "@asterism/keys";
import {
  bootLocalNode,
  createKubeletCsr,
  createNodeIssuer,
  initCluster,
  LifecycleError,
  localImage,
  localImageMeasurements,
  measureNodeIdentity,
  openNodeTpm,
  recoverNode,
  requestJoinTicket,
  requestRejoinTicket,
  STATE_OBJECTS,
  verifyNode,
  writeJoinConfig,
} from "@asterism/lifecycle";
import { createMetadataClient, type MetadataServer, serveMetadata } from "@asterism/metadata";
import { createClusterCa, issueServiceCertificate } from "@asterism/mtls";
import { openSqliteState } from "@asterism/state";
import { readPcrs, TPM_ALG } from "@asterism/tpm";
import {
  allStarted,
  bootstrapperEnv,
  createTestNode,
  endpointOf,
  killAll,
  type Proc,
  startApp,
  startedByName,
  statusOf,
  type TestNode,
  until,
} from "./harness.ts";

const IMAGE = localImage("lifecycle-test");
const POLICY: AttestationPolicy = { measurements: localImageMeasurements(IMAGE) };
const validators = () => [createQemuVtpmValidator({ policy: POLICY })];
const TOKEN = "launcher-token-for-tests-0123456789";
const INIT_SECRET = new TextEncoder().encode("init-secret-0123456789abcdef0123");
const MASTER = {
  key: crypto.getRandomValues(new Uint8Array(32)),
  salt: crypto.getRandomValues(new Uint8Array(32)),
};
const MEASUREMENT_SALT = crypto.getRandomValues(new Uint8Array(32));
const KUBERNETES = {
  version: "v1.31.13",
  components: [],
  serviceCidr: "10.96.0.0/12",
  clusterName: "asterism",
};

const dir = mkdtempSync(join(tmpdir(), "asterism-lifecycle-"));
const statePath = join(dir, "state.db");
const luks = new Luks2({ cryptsetup: systemCryptsetup() });
let md: MetadataServer;
const nodes: Record<string, TestNode> = {};
const boot: Record<string, Proc> = {};
let clusterId: Uint8Array;
let kms: Proc;
let joinService: Proc;
let joinPort = 0;
const kmsEnv: Record<string, string> = {};
const joinEnv: Record<string, string> = {};

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    if (e instanceof LifecycleError) return e.remoteCode ?? e.code;
    if (isAsterismError(e)) return e.code;
    throw e;
  }
  return undefined;
}

const metadata = () => createMetadataClient({ url: md.url });

/** Boot (or reboot) a node; the simulated firmware's event log goes where its bootstrapper reads it. */
async function bootNode(n: TestNode, image = IMAGE): Promise<void> {
  writeFileSync(join(dir, `${n.name}-firmware.bin`), await bootLocalNode(n.swtpm, image));
}

async function addNode(name: string, role: TestNode["role"], image = IMAGE): Promise<TestNode> {
  const n = await createTestNode(dir, name, role);
  nodes[name] = n;
  await bootNode(n, image);
  await metadata().putInstance(TOKEN, name, { role, ips: ["127.0.0.1"] });
  return n;
}

function startBootstrapper(n: TestNode, extra: Record<string, string> = {}): Proc {
  const p = startApp(
    `boot-${n.name}`,
    "bootstrapper",
    bootstrapperEnv(n, md.url, {
      ASTERISM_FIRMWARE_EVENT_LOG: join(dir, `${n.name}-firmware.bin`),
      ...extra,
    }),
  );
  boot[n.name] = p;
  return p;
}

const diskKeyOf = async (uuid: string) =>
  deriveKey({ secret: MASTER.key.slice(), salt: MASTER.salt, purpose: "diskKey", id: uuid });

beforeAll(async () => {
  md = await serveMetadata({
    launcherToken: TOKEN,
    initSecretHash: await Bun.password.hash(INIT_SECRET, { algorithm: "bcrypt", cost: 4 }),
  });
  await Promise.all([
    addNode("cp-0", "control-plane"),
    addNode("worker-0", "worker"),
    addNode("worker-1", "worker"),
  ]);
}, 30_000);

afterAll(async () => {
  await killAll();
  await Promise.all(Object.values(nodes).map((n) => n.swtpm.stop()));
  await md?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("init", () => {
  let initUrl: string;

  test("bootstrappers start: the control plane serves init, workers wait for a JoinService", async () => {
    for (const n of Object.values(nodes)) startBootstrapper(n);
    initUrl = await endpointOf(nodes["cp-0"]!.endpointsFile, "init");
    await metadata().putInstance(TOKEN, "cp-0", {
      role: "control-plane",
      ips: ["127.0.0.1"],
      endpoints: { init: initUrl },
    });
    await boot["worker-0"]!.waitFor((l) => l["msg"] === "join.retry");
    await until("worker-0 waiting", () =>
      statusOf(nodes["worker-0"]!)?.["phase"] === "waiting" ? true : undefined,
    );
  }, 30_000);

  test("a wrong init secret is refused with a bare code, nothing else, and the node stays usable", async () => {
    const err = await initCluster({
      endpoint: initUrl,
      validators: validators(),
      initSecret: new TextEncoder().encode("not-the-secret"),
      masterSecret: MASTER,
      measurementSalt: MEASUREMENT_SALT,
      kubernetes: KUBERNETES,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LifecycleError);
    expect((err as LifecycleError).remoteCode).toBe("INIT_SECRET_INVALID");
    expect((err as LifecycleError).status).toBe(401);
    expect((err as LifecycleError).message).toContain("INIT_SECRET_INVALID: init secret rejected");
    expect(statusOf(nodes["cp-0"]!)?.["phase"]).toBe("waiting");
  }, 30_000);

  test("an unpinned component is refused before the node is touched", async () => {
    const err = await initCluster({
      endpoint: initUrl,
      validators: validators(),
      initSecret: INIT_SECRET,
      masterSecret: MASTER,
      measurementSalt: MEASUREMENT_SALT,
      kubernetes: {
        ...KUBERNETES,
        components: [
          { url: "https://example.invalid/kubeadm", hash: "", installPath: "/usr/local/bin/kubeadm" },
        ],
      },
    }).catch((e: unknown) => e);
    expect((err as LifecycleError).remoteCode).toBe("COMPONENT_HASH_MISSING");
    expect(statusOf(nodes["cp-0"]!)?.["phase"]).toBe("waiting");
  }, 30_000);

  test("two concurrent inits: exactly one succeeds, the other is refused by the node lock", async () => {
    const attempt = () =>
      initCluster({
        endpoint: initUrl,
        validators: validators(),
        initSecret: INIT_SECRET,
        masterSecret: { key: MASTER.key.slice(), salt: MASTER.salt },
        measurementSalt: MEASUREMENT_SALT,
        kubernetes: KUBERNETES,
        waitForEndpointMs: 0,
      });
    const results = await Promise.allSettled([attempt(), attempt()]);
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected");
    expect(ok.length).toBe(1);
    expect(refused.length).toBe(1);
    const reason = (refused[0] as PromiseRejectedResult).reason as LifecycleError;
    expect(reason.remoteCode ?? reason.code).toBe("NODE_ALREADY_ACTIVATED");
    const result = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof initCluster>>>).value;
    clusterId = result.clusterId;
    const ms = await deriveKey({
      secret: MASTER.key.slice(),
      salt: MASTER.salt,
      purpose: "measurementSecret",
    });
    expect(toHex(clusterId)).toBe(toHex(await deriveClusterId(ms, MEASUREMENT_SALT)));
    expect(result.kubeconfig).toContain("client-certificate-data");
    expect(result.kubernetes.performed).toBe(false);
    expect(result.kubernetes.note).toContain("local cluster");
    expect(result.kubernetes.note).toContain("cluster manifests (k8s/) not applied");
    expect(await boot["cp-0"]!.exitCode()).toBe(0);
    expect(statusOf(nodes["cp-0"]!)).toMatchObject({
      phase: "done",
      activatedBy: "init",
      clusterId: toHex(clusterId),
    });
  }, 30_000);

  test("a second init is refused: the init endpoint is gone", async () => {
    expect(
      await codeOf(
        initCluster({
          endpoint: initUrl,
          validators: validators(),
          initSecret: INIT_SECRET,
          masterSecret: MASTER,
          measurementSalt: MEASUREMENT_SALT,
          kubernetes: KUBERNETES,
          waitForEndpointMs: 0,
        }),
      ),
    ).toBe("UNAVAILABLE");
  });

  test("the control plane's disk opens with HKDF(master, 'key-'+uuid) and is marked initialized", async () => {
    const disk = nodes["cp-0"]!.disk;
    const uuid = await luks.uuid(disk);
    expect(await luks.testKey(disk, await diskKeyOf(uuid))).toBe(true);
    expect(await luks.readToken(disk)).toMatchObject({
      type: "asterism-state-disk",
      initialized: true,
      role: "control-plane",
    });
    const pki = join(nodes["cp-0"]!.runDir, "pki");
    expect(readFileSync(join(pki, "ca.key"), "utf8")).toContain("PRIVATE KEY");
    expect(readFileSync(join(pki, "kubelet.crt"), "utf8")).toContain("CERTIFICATE");
  });
});

/** Start (or restart) the JoinService on `port` (0 = free). */
function startJoinService(port = 0): Proc {
  joinService = startApp("join-service", "join-service", {
    ...joinEnv,
    ASTERISM_JOIN_LISTEN: `127.0.0.1:${port}`,
  });
  return joinService;
}

describe("post-init services and joins", () => {
  test("the launcher deploys KMS and JoinService with the join configuration", async () => {
    const now = new Date();
    const ca = await createClusterCa({ now });
    const kmsCert = await issueServiceCertificate(ca, {
      service: "kms",
      usage: "server",
      ipAddresses: ["127.0.0.1"],
      now,
    });
    const joinCert = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
    const f = (name: string, data: string) => {
      const p = join(dir, name);
      writeFileSync(p, data, { mode: 0o600 });
      return p;
    };
    Object.assign(kmsEnv, {
      KMS_MODE: "cluster",
      KMS_HOST: "127.0.0.1",
      KMS_PORT: "0",
      KMS_CA_CERT_FILE: f("ca.crt", ca.certPem),
      KMS_TLS_CERT_FILE: f("kms.crt", kmsCert.certPem),
      KMS_TLS_KEY_FILE: f("kms.key", kmsCert.keyPem),
      KMS_MASTER_SECRET_FILE: f(
        "mastersecret.json",
        JSON.stringify({ key: toBase64(MASTER.key), salt: toBase64(MASTER.salt) }),
      ),
    });
    kms = startApp("kms", "kms", kmsEnv);
    const kmsPort = (await kms.waitFor((l) => l["msg"] === "kms.listening"))["port"] as number;
    const state = openSqliteState(statePath);
    await writeJoinConfig(state, {
      policy: POLICY,
      measurementSalt: MEASUREMENT_SALT,
      kubernetesVersion: KUBERNETES.version,
      components: [],
    });
    state.close();
    Object.assign(joinEnv, {
      ASTERISM_STATE: `sqlite:${statePath}`,
      ASTERISM_HTTP_LISTEN: "127.0.0.1:0",
      ASTERISM_PKI_DIR: join(nodes["cp-0"]!.runDir, "pki"),
      ASTERISM_KMS_URL: `https://127.0.0.1:${kmsPort}`,
      ASTERISM_KMS_CA_FILE: kmsEnv["KMS_CA_CERT_FILE"] as string,
      ASTERISM_KMS_CERT_FILE: f("join.crt", joinCert.certPem),
      ASTERISM_KMS_KEY_FILE: f("join.key", joinCert.keyPem),
      ASTERISM_API_SERVER_ENDPOINT: "127.0.0.1:6443",
      ASTERISM_METADATA_URL: md.url,
      ASTERISM_POLICY_RELOAD_MS: "200",
      ASTERISM_ENDPOINTS_FILE: join(dir, "join-endpoints.json"),
    });
    startJoinService();
    const joinUrl = await endpointOf(joinEnv["ASTERISM_ENDPOINTS_FILE"] as string, "join");
    joinPort = Number(new URL(joinUrl).port);
    const httpUrl = await endpointOf(joinEnv["ASTERISM_ENDPOINTS_FILE"] as string, "http");
    await until("join-service ready", async () => ((await fetch(`${httpUrl}/readyz`)).ok ? true : undefined));
    await metadata().putInstance(TOKEN, "cp-0", {
      role: "control-plane",
      ips: ["127.0.0.1"],
      endpoints: { join: joinUrl },
    });
  }, 30_000);

  test("both workers join by themselves: PCR 15 extended, disk re-keyed, kubelet certificate, no CA keys", async () => {
    for (const name of ["worker-0", "worker-1"]) {
      const n = nodes[name]!;
      expect(await boot[name]!.exitCode()).toBe(0);
      expect(statusOf(n)).toMatchObject({ phase: "done", activatedBy: "join", clusterId: toHex(clusterId) });
      const uuid = await luks.uuid(n.disk);
      expect(await luks.testKey(n.disk, await diskKeyOf(uuid))).toBe(true);
      const kubelet = readFileSync(join(n.runDir, "pki", "kubelet.crt"), "utf8");
      expect(kubelet).toContain("CERTIFICATE");
      expect(() => readFileSync(join(n.runDir, "pki", "ca.key"))).toThrow();
      const state = openSqliteState(statePath);
      const owner = await state.get("config", `${STATE_OBJECTS.diskOwnerPrefix}${uuid}`);
      state.close();
      expect(fromUtf8(owner?.data["nodeName"] as Uint8Array)).toBe(name);
    }
  }, 60_000);
});

/** A fresh node that never ran a bootstrapper: the test drives its TPM with the library directly. */
async function freshNode(name: string, image = IMAGE) {
  const n = await addNode(name, "worker", image);
  const tpm = await openNodeTpm({ kind: "swtpm", host: "127.0.0.1", port: n.swtpm.port });
  const log = await measureNodeIdentity(tpm, { name, role: "worker", ips: ["127.0.0.1"] });
  const issuer = createNodeIssuer({ tpm, readEventLog: async () => log });
  return { n, tpm, log, issuer };
}

async function stateCounts() {
  const state = openSqliteState(statePath);
  try {
    const owners = (await state.list("config")).filter((o) =>
      o.name.startsWith(STATE_OBJECTS.diskOwnerPrefix),
    ).length;
    const tokens = (await state.list("secret")).filter((o) => o.name.startsWith("bootstrap-token-")).length;
    return { owners, tokens };
  } finally {
    state.close();
  }
}

describe("refusals", () => {
  let fresh: Awaited<ReturnType<typeof freshNode>>;
  let joinUrl: string;
  beforeAll(async () => {
    fresh = await freshNode("worker-2");
    joinUrl = `https://127.0.0.1:${joinPort}`;
  });
  afterAll(() => fresh?.tpm.close());

  test("a node with a wrong measurement is refused during the handshake and gets nothing", async () => {
    const bad = await freshNode("tampered-0", localImage("tampered"));
    try {
      const before = await stateCounts();
      const { csr } = await createKubeletCsr({ name: "tampered-0", ips: ["127.0.0.1"] });
      const err = await requestJoinTicket({
        endpoint: joinUrl,
        issuer: bad.issuer,
        diskUuid: "11111111-1111-4111-8111-111111111111",
        csr,
        controlPlane: false,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LifecycleError);
      expect((err as LifecycleError).code).toBe("NOT_TRUSTED");
      expect((err as LifecycleError).actual).toContain("PEER_REJECTED");
      expect(await stateCounts()).toEqual(before);
      const refusal = await joinService.waitFor(
        (l) => l["msg"] === "join.atls_rejected" && String(l["reason"]).includes("MEASUREMENT"),
      );
      // The log names every differing PCR with expected and quoted values (apps/join-service refusal.ts).
      const tamperedPcrs = [...POLICY.measurements]
        .filter(([i, m]) => localImageMeasurements(localImage("tampered")).get(i)?.expected !== m.expected)
        .map(([i]) => i);
      expect(refusal["mismatchedPcrs"]).toBe(tamperedPcrs.join(","));
      for (const i of tamperedPcrs)
        expect(String(refusal["mismatches"])).toContain(
          `[${i}] expected ${POLICY.measurements.get(i)?.expected}`,
        );
    } finally {
      await bad.tpm.close();
    }
  }, 30_000);

  test("a node attested as worker asking for control-plane material gets no CA keys", async () => {
    const before = await stateCounts();
    const { csr } = await createKubeletCsr({ name: "worker-2", ips: ["127.0.0.1"] });
    const err = await requestJoinTicket({
      endpoint: joinUrl,
      issuer: fresh.issuer,
      diskUuid: await luks.uuid(fresh.n.disk).catch(() => "22222222-2222-4222-8222-222222222222"),
      csr,
      controlPlane: true,
    }).catch((e: unknown) => e);
    expect((err as LifecycleError).remoteCode).toBe("ROLE_NOT_CONTROL_PLANE");
    expect((err as LifecycleError).status).toBe(403);
    expect(await stateCounts()).toEqual(before);
  }, 30_000);

  test("a kubelet CSR for another node's name is refused", async () => {
    const { csr } = await createKubeletCsr({ name: "cp-0", ips: ["127.0.0.1"] });
    expect(
      await codeOf(
        requestJoinTicket({
          endpoint: joinUrl,
          issuer: fresh.issuer,
          diskUuid: "33333333-3333-4333-8333-333333333333",
          csr,
          controlPlane: false,
        }),
      ),
    ).toBe("CSR_NAME_MISMATCH");
  }, 30_000);

  test("a node asking for another node's disk key is refused (join and rejoin)", async () => {
    const victim = await luks.uuid(nodes["worker-0"]!.disk);
    const { csr } = await createKubeletCsr({ name: "worker-2", ips: ["127.0.0.1"] });
    expect(
      await codeOf(
        requestJoinTicket({
          endpoint: joinUrl,
          issuer: fresh.issuer,
          diskUuid: victim,
          csr,
          controlPlane: false,
        }),
      ),
    ).toBe("DISK_OWNED_BY_OTHER_NODE");
    expect(
      await codeOf(requestRejoinTicket({ endpoint: joinUrl, issuer: fresh.issuer, diskUuid: victim })),
    ).toBe("DISK_OWNED_BY_OTHER_NODE");
  }, 30_000);

  test("the JoinService dying mid-join loses nothing: the node retries and joins", async () => {
    // worker-2's PCR 16 is already measured (by the test, as a bootstrapper that restarted would find it):
    // its bootstrapper reuses the kept event log.
    writeFileSync(join(fresh.n.runDir, "eventlog.bin"), fresh.log);
    await fresh.tpm.close();
    kms.kill("SIGSTOP"); // the JoinService will hang on the disk key, after claiming the disk
    const p = startBootstrapper(fresh.n);
    const uuid = await until(
      "worker-2 disk formatted",
      () => p.lines.find((l) => l["msg"] === "bootstrapper.disk")?.["uuid"] as string | undefined,
    );
    const ownerName = `${STATE_OBJECTS.diskOwnerPrefix}${uuid}`;
    const created = await until("worker-2 disk claimed", async () => {
      const state = openSqliteState(statePath);
      try {
        return (await state.get("config", ownerName))?.data["createdAt"];
      } finally {
        state.close();
      }
    });
    joinService.kill("SIGKILL");
    await joinService.exitCode();
    kms.kill("SIGCONT");
    startJoinService(joinPort);
    expect(await p.exitCode(40_000)).toBe(0);
    expect(statusOf(fresh.n)).toMatchObject({
      phase: "done",
      activatedBy: "join",
      clusterId: toHex(clusterId),
    });
    expect(await luks.testKey(fresh.n.disk, await diskKeyOf(uuid))).toBe(true);
    const state = openSqliteState(statePath);
    try {
      expect((await state.get("config", ownerName))?.data["createdAt"]).toEqual(created);
    } finally {
      state.close();
    }
  }, 60_000);
});

describe("rejoin", () => {
  test("a rebooted worker gets its own disk key back and re-extends PCR 15", async () => {
    const n = nodes["worker-1"]!;
    await bootNode(n); // reboot: PCRs reset
    const p = startBootstrapper(n);
    expect(await p.exitCode(30_000)).toBe(0);
    expect(statusOf(n)).toMatchObject({ phase: "done", activatedBy: "rejoin", clusterId: toHex(clusterId) });
    expect(p.lines.some((l) => l["msg"] === "bootstrapper.disk" && l["state"] === "initialized")).toBe(true);
    await joinService.waitFor((l) => l["msg"] === "join.rejoin_ticket_issued" && l["node"] === "worker-1");
  }, 40_000);
});

/** PCR 15 after extending a zero register once with the cluster ID (TPM2_PCR_Event). */
const expectedPcr15 = (id: Uint8Array) =>
  toHex(
    createHash("sha256").update(new Uint8Array(32)).update(createHash("sha256").update(id).digest()).digest(),
  );

describe("verify from outside", () => {
  const verifiers: Record<string, string> = {};

  test("each node's VerificationService proves PCR 15 = SHA-256(0³² ‖ SHA-256(clusterID))", async () => {
    for (const name of ["cp-0", "worker-0"]) {
      const n = nodes[name]!;
      const endpointsFile = join(n.runDir, "verify-endpoints.json");
      startApp(`verify-${name}`, "verification-service", {
        ASTERISM_TPM: `swtpm:127.0.0.1:${n.swtpm.port}`,
        ASTERISM_RUN_DIR: n.runDir,
        ASTERISM_VERIFY_LISTEN: "127.0.0.1:0",
        ASTERISM_ENDPOINTS_FILE: endpointsFile,
      });
      verifiers[name] = await endpointOf(endpointsFile, "verify");
      await until(`${name} verifier ready`, async () =>
        (await fetch(`${verifiers[name]}/readyz`)).ok ? true : undefined,
      );
      const { claims } = await verifyNode({ url: verifiers[name]!, policy: POLICY, clusterId });
      expect(claims.measurements[15]).toBe(expectedPcr15(clusterId));
      // One log explains the simulated firmware's PCRs and the identity event.
      expect(claims.details["eventLogVerified"]).toBe(true);
    }
  }, 30_000);

  test("a verifier expecting another cluster ID refuses; a bad nonce is a 400", async () => {
    const other = crypto.getRandomValues(new Uint8Array(32));
    expect(await codeOf(verifyNode({ url: verifiers["worker-0"]!, policy: POLICY, clusterId: other }))).toBe(
      "MEASUREMENT_MISMATCH",
    );
    const res = await fetch(`${verifiers["worker-0"]}/?nonce=`);
    expect(res.status).toBe(400);
    const big = await fetch(`${verifiers["worker-0"]}/?nonce=${"A".repeat(300)}`);
    expect(big.status).toBe(400);
  }, 30_000);
});

describe("recovery", () => {
  test("after every control-plane process stopped, the owner recovers the control plane with the master secret", async () => {
    const cp = nodes["cp-0"]!;
    joinService.kill("SIGTERM");
    kms.kill("SIGTERM");
    await joinService.exitCode();
    await kms.exitCode();
    for (const p of ["verify-cp-0"]) startedByName(p)?.kill("SIGTERM");
    await bootNode(cp); // the control plane reboots
    const p = startBootstrapper(cp);
    const recoveryUrl = await endpointOf(cp.endpointsFile, "recovery");
    await p.waitFor((l) => l["msg"] === "rejoin.retry"); // no JoinService answers
    const wrong = { key: crypto.getRandomValues(new Uint8Array(32)), salt: MASTER.salt };
    expect(
      await codeOf(recoverNode({ endpoint: recoveryUrl, validators: validators(), masterSecret: wrong })),
    ).toBe("MASTER_SECRET_WRONG");
    const out = await recoverNode({
      endpoint: recoveryUrl,
      validators: validators(),
      masterSecret: { key: MASTER.key.slice(), salt: MASTER.salt },
    });
    expect(toHex(out.clusterId)).toBe(toHex(clusterId));
    expect(await p.exitCode()).toBe(0);
    expect(statusOf(cp)).toMatchObject({ phase: "done", activatedBy: "recovery" });
    const tpm = await openNodeTpm({ kind: "swtpm", host: "127.0.0.1", port: cp.swtpm.port });
    try {
      const pcrs = await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [15] }]);
      expect(toHex(pcrs.get(TPM_ALG.SHA256)?.get(15) as Uint8Array)).toBe(expectedPcr15(clusterId));
    } finally {
      await tpm.close();
    }
  }, 60_000);

  test("no secret ever reached a log line", () => {
    const secrets = [
      toBase64(MASTER.key),
      toHex(MASTER.key),
      new TextDecoder().decode(INIT_SECRET),
      toBase64(INIT_SECRET),
    ];
    for (const p of allStarted()) for (const s of secrets) expect(p.raw().includes(s)).toBe(false);
  });
});
