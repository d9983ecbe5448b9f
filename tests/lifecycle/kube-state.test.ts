// The join configuration and disk-ownership records on the Kubernetes state backend: `ASTERISM_STATE=kube:`
// (a kubeconfig with client certificates) against the test API server, as a JoinService in a real cluster
// would use it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAsterismError } from "@asterism/errors";
import { createBootstrapTokenSecret, generateBootstrapToken } from "@asterism/kubeadm";
import {
  LifecycleError,
  localImage,
  localImageMeasurements,
  openClusterState,
  parseComponentsObject,
  parseJoinConfigObject,
  readKubeconfig,
  STATE_OBJECTS,
  writeJoinConfig,
} from "@asterism/lifecycle";
import { stringify } from "yaml";
import { createKubeTokenPublisher } from "../../apps/join-service/src/tokens.ts";
import {
  createTestPki,
  startTestApiServer,
  type TestApiServer,
  type TestPki,
} from "../kube-apiserver/index.ts";

setDefaultTimeout(30_000);
const dir = mkdtempSync(join(tmpdir(), "asterism-kube-state-"));
let pki: TestPki;
let api: TestApiServer;
let kubeconfig: string;

beforeAll(async () => {
  pki = createTestPki();
  api = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
  });
  const tls = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
  const res = await fetch(`${api.url}/api/v1/namespaces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "asterism-system" } }),
    tls,
  } as RequestInit);
  expect(res.status).toBe(201);
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: api.url, "certificate-authority-data": b64(pki.ca) } }],
      users: [
        {
          name: "u",
          user: { "client-certificate-data": b64(pki.clientCert), "client-key-data": b64(pki.clientKey) },
        },
      ],
      contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
      "current-context": "ctx",
    }),
    { mode: 0o600 },
  );
});

afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("cluster state through a kubeconfig", () => {
  test("join configuration round trip, replaced by compare-and-swap", async () => {
    const state = openClusterState(`kube:${kubeconfig}#asterism-system`);
    const policy = { measurements: localImageMeasurements(localImage("kube")) };
    const salt = new Uint8Array(32).fill(3);
    await writeJoinConfig(state, {
      policy,
      measurementSalt: salt,
      kubernetesVersion: "v1.31.13",
      components: [],
    });
    await writeJoinConfig(state, {
      policy,
      measurementSalt: salt,
      kubernetesVersion: "v1.31.14",
      components: [],
    });
    const o = await state.get("config", STATE_OBJECTS.joinConfig);
    const parsed = parseJoinConfigObject(o!);
    expect(parsed.measurementSalt).toEqual(salt);
    expect(parsed.policy.measurements.get(15)?.expected).toBe("0".repeat(64));
    expect(parseComponentsObject(await state.get("config", STATE_OBJECTS.components)).kubernetesVersion).toBe(
      "v1.31.14",
    );
  });

  test("a disk-owner record is created once: the second create is ALREADY_EXISTS", async () => {
    const state = openClusterState(`kube:${kubeconfig}#asterism-system`);
    const name = `${STATE_OBJECTS.diskOwnerPrefix}12345678-1234-4234-8234-123456789abc`;
    await state.create("config", name, { nodeName: new TextEncoder().encode("worker-0") });
    let code: string | undefined;
    try {
      await state.create("config", name, { nodeName: new TextEncoder().encode("worker-1") });
    } catch (e) {
      code = isAsterismError(e) ? e.code : undefined;
    }
    expect(code).toBe("ALREADY_EXISTS");
  });

  test("the JoinService's bootstrap token is a typed kube-system Secret, as kubeadm writes it", async () => {
    const ns = await fetch(`${api.url}/api/v1/namespaces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "kube-system" } }),
      tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
    } as RequestInit);
    expect([201, 409]).toContain(ns.status);
    const token = generateBootstrapToken((n) => crypto.getRandomValues(new Uint8Array(n)));
    const publisher = createKubeTokenPublisher(readKubeconfig(kubeconfig, "kube-system"));
    await publisher.publish(createBootstrapTokenSecret({ token, now: new Date() }));
    const res = await fetch(`${api.url}/api/v1/namespaces/kube-system/secrets/bootstrap-token-${token.id}`, {
      tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
    } as RequestInit);
    const secret = (await res.json()) as { type: string; data: Record<string, string> };
    expect(secret.type).toBe("bootstrap.kubernetes.io/token");
    expect(Buffer.from(secret.data["token-id"] as string, "base64").toString()).toBe(token.id);
  });

  test.each([
    { name: "unknown scheme", spec: "etcd:/tmp/x" },
    { name: "missing kubeconfig", spec: `kube:${join(dir, "nope")}` },
    { name: "empty sqlite path", spec: "sqlite:" },
  ])("refused: $name", ({ spec }) => {
    expect(() => openClusterState(spec)).toThrow(LifecycleError);
  });
});
