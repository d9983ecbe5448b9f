// The Kubernetes sink of the control-plane services' provisioning (apps/bootstrapper/src/cluster-objects.ts):
// at init, before the manifests, the bootstrapper creates the objects they reference. Against the test API
// server (every stored object validated with kubernetes-models) through the admin-kubeconfig path the
// binary uses: the objects are exactly those docs/deploy.md step 5 documents; they precede the manifests;
// creation is idempotent and never overwrites; nothing secret is logged.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { toBase64 } from "@asterism/bytes";
import { parseMasterSecret } from "@asterism/keys";
import { createKubeClient, getObject, type KubeObject } from "@asterism/kube-apply";
import {
  localImage,
  localImageMeasurements,
  parseComponentsObject,
  parseJoinConfigObject,
  STATE_OBJECTS,
  serializePolicy,
} from "@asterism/lifecycle";
import { createMemoryLogger } from "@asterism/service";
import { kubernetesState } from "@asterism/state";
import { repoRoot } from "@asterism/testing";
import { stringify } from "yaml";
import { createManifestApplier } from "../../apps/bootstrapper/src/cluster-manifests.ts";
import type { ClusterServicesInput } from "../../apps/bootstrapper/src/cluster-objects.ts";
import { BootstrapperError } from "../../apps/bootstrapper/src/errors.ts";
import {
  createTestPki,
  startTestApiServer,
  type TestApiServer,
  type TestPki,
} from "../kube-apiserver/index.ts";
import { documentedObjects } from "./pod-environment.ts";

setDefaultTimeout(30_000);

let pki: TestPki;
const servers: TestApiServer[] = [];
beforeAll(() => {
  pki = createTestPki();
});
afterAll(async () => {
  for (const s of servers) await s.stop();
});

/** A fresh API server per test: each provisions its own cluster. */
async function apiServer(): Promise<TestApiServer> {
  const s = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
  });
  servers.push(s);
  return s;
}
const b64 = (s: string) => Buffer.from(s).toString("base64");
const kubeconfigFor = (server: string) =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "t", cluster: { server, "certificate-authority-data": b64(pki.ca) } }],
    users: [
      {
        name: "a",
        user: { "client-certificate-data": b64(pki.clientCert), "client-key-data": b64(pki.clientKey) },
      },
    ],
    contexts: [{ name: "a@t", context: { cluster: "t", user: "a" } }],
    "current-context": "a@t",
  });
const admin = (api: TestApiServer) =>
  createKubeClient({ server: api.url, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
const get = (api: TestApiServer, kind: string, name: string) =>
  getObject(admin(api), { apiVersion: "v1", kind, namespace: "asterism-system", name });
const dataOf = (o: KubeObject | undefined) =>
  ((o as { data?: Record<string, string> } | undefined)?.data ?? {}) as Record<string, string>;

const MASTER = { key: new Uint8Array(32).fill(0x5a), salt: new Uint8Array(32).fill(0x17) };
const input = (overrides: Partial<ClusterServicesInput> = {}): ClusterServicesInput => ({
  masterSecret: { key: MASTER.key.slice(), salt: MASTER.salt.slice() },
  measurementSalt: new Uint8Array(32).fill(3),
  joinPolicy: { measurements: localImageMeasurements(localImage("services")) },
  kubernetesVersion: "v1.33.0",
  components: [
    {
      url: "https://example.invalid/kubelet",
      hash: `sha256:${"0".repeat(64)}`,
      installPath: "/usr/bin/kubelet",
    },
  ],
  apiServerEndpoint: "10.42.0.10:6443",
  ...overrides,
});
/** Strings that must never appear in a log line or an error message. */
const secretsOf = (i: ClusterServicesInput) => [toBase64(i.masterSecret.key), "PRIVATE KEY"];

describe("the objects the manifests reference, created at init", () => {
  test("exactly docs/deploy.md step 5's objects and keys, before the manifests; the join configuration in state", async () => {
    const api = await apiServer();
    const logger = createMemoryLogger();
    const i = input();
    const out = await createManifestApplier({ variant: "qemu-vtpm", logger })(kubeconfigFor(api.url), i);

    const documented = documentedObjects(readFileSync(join(repoRoot, "docs", "deploy.md"), "utf8"));
    expect(documented.length).toBeGreaterThan(0);
    for (const d of documented)
      expect(Object.keys(dataOf(await get(api, d.kind, d.name))).sort()).toEqual([...d.keys].sort());
    expect(out.services?.created).toHaveLength(documented.length);
    expect(out.services?.joinConfigWritten).toBe(true);

    // Order: the Namespace (apply), then the referenced objects (create), then the rest of the overlay.
    const writes = api.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);
    const firstWorkload = writes.findIndex((w) => w.includes("/daemonsets/"));
    const lastService = writes.findLastIndex((w) =>
      w.startsWith("POST /api/v1/namespaces/asterism-system/secrets"),
    );
    expect(writes[0]).toBe("PATCH /api/v1/namespaces/asterism-system");
    expect(lastService).toBeGreaterThan(0);
    expect(lastService).toBeLessThan(firstWorkload);

    // The master secret is the request's, in Constellation's format.
    const master = parseMasterSecret(
      Buffer.from(
        dataOf(await get(api, "Secret", "kms-master-secret"))["master-secret.json"] ?? "",
        "base64",
      ),
    );
    expect([master.key, master.salt]).toEqual([MASTER.key, MASTER.salt]);
    expect(dataOf(await get(api, "ConfigMap", "join-service-config"))).toEqual({
      "api-server-endpoint": "10.42.0.10:6443",
    });

    // One CA: the KMS's callers' trust anchor is the CA of the JoinService's client certificate, and the
    // JoinService's trust anchor signed the KMS certificate for the name it dials.
    const kms = dataOf(await get(api, "Secret", "kms-tls"));
    const client = dataOf(await get(api, "Secret", "join-service-kms-client-tls"));
    const text = (v: string | undefined) => Buffer.from(v ?? "", "base64").toString("utf8");
    expect(text(kms["ca.crt"])).toBe(text(client["ca.crt"]));
    const x509 = await import("node:crypto"); // an independent X.509 implementation
    const kmsCert = new x509.X509Certificate(text(kms["tls.crt"]));
    expect(kmsCert.checkHost("kms.asterism-system.svc")).toBe("kms.asterism-system.svc");
    expect(kmsCert.verify(new x509.X509Certificate(text(kms["ca.crt"])).publicKey)).toBe(true);
    const joinCert = new x509.X509Certificate(text(client["tls.crt"]));
    expect(joinCert.subjectAltName).toContain("asterism://join-service");
    expect(joinCert.verify(new x509.X509Certificate(text(kms["ca.crt"])).publicKey)).toBe(true);

    // The join configuration, as the JoinService reads it.
    const state = kubernetesState({
      server: api.url,
      namespace: "asterism-system",
      ca: pki.ca,
      cert: pki.clientCert,
      key: pki.clientKey,
    });
    const stored = await state.get("config", STATE_OBJECTS.joinConfig);
    if (stored === undefined) throw new Error("no join configuration");
    const parsed = parseJoinConfigObject(stored);
    expect(serializePolicy(parsed.policy)).toEqual(serializePolicy(i.joinPolicy as never));
    expect(parsed.measurementSalt).toEqual(i.measurementSalt);
    expect(parseComponentsObject(await state.get("config", STATE_OBJECTS.components)).kubernetesVersion).toBe(
      "v1.33.0",
    );

    const logs = JSON.stringify(logger.lines);
    for (const s of secretsOf(i)) expect(logs.includes(s)).toBe(false);
  });

  test("without a join policy in the request, the join configuration is left to asterism apply", async () => {
    const api = await apiServer();
    const logger = createMemoryLogger();
    const out = await createManifestApplier({ variant: "qemu-vtpm", logger })(
      kubeconfigFor(api.url),
      input({ joinPolicy: undefined }),
    );
    expect(out.services?.joinConfigWritten).toBe(false);
    expect(logger.lines.find((l) => l["msg"] === "manifests.services_provisioned")?.["joinConfig"]).toContain(
      "asterism apply",
    );
  });

  test("a retry after an unreachable API server converges on the same objects", async () => {
    const api = await apiServer();
    const logger = createMemoryLogger();
    let calls = 0;
    const flaky = createKubeClient({
      server: api.url,
      tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
      // The fifth request (the second Secret's create, after the Namespace and two reads) fails, once.
      fetch: (url, init) =>
        ++calls === 5 ? Promise.reject(new Error("connection reset")) : fetch(url, init),
    });
    const out = await createManifestApplier({
      variant: "qemu-vtpm",
      logger,
      connect: () => flaky,
      delayMs: 1,
    })(kubeconfigFor(api.url), input());
    expect(logger.lines.filter((l) => l["msg"] === "manifests.retry")).toHaveLength(1);
    expect(out.services?.existing.length).toBeGreaterThan(0);
    expect([...(out.services?.created ?? []), ...(out.services?.existing ?? [])].sort()).toEqual([
      "/ConfigMap/asterism-system/join-service-config",
      "/Secret/asterism-system/join-service-kms-client-tls",
      "/Secret/asterism-system/kms-master-secret",
      "/Secret/asterism-system/kms-tls",
    ]);
  });

  test("a second init on a provisioned cluster keeps the TLS pair and accepts the same master secret", async () => {
    const api = await apiServer();
    const apply = createManifestApplier({ variant: "qemu-vtpm", logger: createMemoryLogger() });
    await apply(kubeconfigFor(api.url), input());
    const before = dataOf(await get(api, "Secret", "kms-tls"));
    const again = await apply(kubeconfigFor(api.url), input());
    expect(again.services?.created).toEqual([]);
    expect(again.services?.joinConfigWritten).toBe(false);
    expect(dataOf(await get(api, "Secret", "kms-tls"))).toEqual(before);
  });

  const refusals: [string, (api: TestApiServer) => Promise<void>, Partial<ClusterServicesInput>][] = [
    [
      "another master secret is never kept nor replaced",
      async () => {},
      { masterSecret: { key: new Uint8Array(32).fill(1), salt: MASTER.salt } },
    ],
    ["another API server endpoint", async () => {}, { apiServerEndpoint: "10.42.0.99:6443" }],
    [
      "another join configuration (measurement salt)",
      async () => {},
      { measurementSalt: new Uint8Array(32).fill(9) },
    ],
    [
      "a lone TLS Secret from another CA",
      async (api) => {
        await admin(api).request({
          method: "DELETE",
          path: "/api/v1/namespaces/asterism-system/secrets/join-service-kms-client-tls",
        });
      },
      {},
    ],
  ];
  test.each(refusals)(
    "refused with MANIFESTS_APPLY_FAILED, leaking nothing: %s",
    async (_name, tamper, overrides) => {
      const api = await apiServer();
      await createManifestApplier({ variant: "qemu-vtpm", logger: createMemoryLogger() })(
        kubeconfigFor(api.url),
        input(),
      );
      await tamper(api);
      const before = dataOf(await get(api, "Secret", "kms-master-secret"));
      const logger = createMemoryLogger();
      const i = input(overrides);
      let caught: unknown;
      try {
        await createManifestApplier({ variant: "qemu-vtpm", logger, delayMs: 1 })(kubeconfigFor(api.url), i);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(BootstrapperError);
      expect((caught as BootstrapperError).code).toBe("MANIFESTS_APPLY_FAILED");
      expect(dataOf(await get(api, "Secret", "kms-master-secret"))).toEqual(before);
      const text = (caught as Error).message + JSON.stringify(logger.lines);
      for (const s of [...secretsOf(i), ...secretsOf(input())]) expect(text.includes(s)).toBe(false);
      // The refusal came before the overlay: nothing was applied in this run.
      expect(logger.lines.some((l) => l["msg"] === "manifests.applied")).toBe(false);
    },
  );
});
