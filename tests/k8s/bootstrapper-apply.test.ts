// The bootstrapper's init step that applies the rendered k8s/ overlay (apps/bootstrapper/src/
// cluster-manifests.ts), against the test API server (every stored object validated with
// kubernetes-models), through the same admin-kubeconfig path the binary uses; and the removal of kubeadm's
// bootstrap-token CSR auto-approval binding that follows it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  applyObject,
  createKubeClient,
  FIELD_MANAGER,
  getObject,
  type KubeObject,
  objectKey,
  validateObject,
} from "@asterism/kube-apply";
import { createMemoryLogger } from "@asterism/service";
import { stringify } from "yaml";
import {
  createManifestApplier,
  embeddedManifests,
  kubeClientFromKubeconfig,
  VARIANT_OVERLAYS,
} from "../../apps/bootstrapper/src/cluster-manifests.ts";
import { BootstrapperError } from "../../apps/bootstrapper/src/errors.ts";
import {
  KUBEADM_BOOTSTRAP_AUTOAPPROVE,
  KUBEADM_ROTATION_AUTOAPPROVE,
} from "../../apps/bootstrapper/src/kubeadm-rbac.ts";
import { EMBEDDED_MANIFESTS_PATH, embeddedManifestsText, renderAllOverlays } from "../../k8s/render/embed.ts";
import {
  createTestPki,
  KUBEADM_CSR_BINDINGS,
  seedKubeadmCsrBindings,
  startTestApiServer,
  type TestApiServer,
  type TestPki,
} from "../kube-apiserver/index.ts";

setDefaultTimeout(30_000);

let pki: TestPki;
let api: TestApiServer;
let tokenApi: TestApiServer;

beforeAll(async () => {
  pki = createTestPki();
  api = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
  });
  tokenApi = await startTestApiServer({ token: "only-with-this-token" });
});
afterAll(async () => {
  await api?.stop();
  await tokenApi?.stop();
});

const b64 = (s: string) => Buffer.from(s).toString("base64");
/** An admin kubeconfig shaped like createAdminKubeconfig's, for the test API server's PKI. */
const kubeconfigFor = (server: string) =>
  stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "t", cluster: { server, "certificate-authority-data": b64(pki.ca) } }],
    users: [
      {
        name: "t-admin",
        user: { "client-certificate-data": b64(pki.clientCert), "client-key-data": b64(pki.clientKey) },
      },
    ],
    contexts: [{ name: "t-admin@t", context: { cluster: "t", user: "t-admin" } }],
    "current-context": "t-admin@t",
  });
const admin = () =>
  createKubeClient({ server: api.url, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });

/** Secret material of the kubeconfig that must never appear in a log line or an error. */
const secrets = () => {
  const keyBody = pki.clientKey.split("\n").filter((l) => l !== "" && !l.startsWith("-----"));
  return [...keyBody, b64(pki.clientKey)];
};
function expectNoSecret(text: string) {
  for (const s of secrets()) expect(text.includes(s)).toBe(false);
}

async function applyError(p: Promise<unknown>): Promise<BootstrapperError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof BootstrapperError) return err;
    throw err;
  }
  throw new Error("expected a BootstrapperError");
}

describe("embedded manifests", () => {
  test("the committed manifests.generated.json is a fresh render of every overlay", () => {
    expect(readFileSync(EMBEDDED_MANIFESTS_PATH, "utf8")).toBe(embeddedManifestsText());
  });

  test("every overlay has a variant, and each variant's objects are that overlay's", () => {
    const rendered = renderAllOverlays();
    expect(Object.values(VARIANT_OVERLAYS).sort()).toEqual(Object.keys(rendered).sort());
    for (const [variant, overlay] of Object.entries(VARIANT_OVERLAYS))
      expect(embeddedManifests(variant)).toEqual(rendered[overlay] as KubeObject[]);
  });

  test("an unknown variant is refused with MANIFESTS_APPLY_FAILED", () => {
    expect(() => embeddedManifests("no-such-variant")).toThrow(BootstrapperError);
  });
});

describe("apply at init (admin kubeconfig, mutual TLS)", () => {
  test("every object of the variant's overlay is stored, managed by field manager asterism", async () => {
    const logger = createMemoryLogger();
    const apply = createManifestApplier({ variant: "qemu-vtpm", logger });
    const before = api.requests.length;
    const out = await apply(kubeconfigFor(api.url));
    const objects = embeddedManifests("qemu-vtpm");
    // No kubeadm ran against this server, so its auto-approval binding is not there to remove.
    expect(out).toEqual({ objects: objects.length, overlay: "qemu", bootstrapAutoApproval: "absent" });
    const sent = api.requests.slice(before);
    expect(sent.map((r) => r.method)).toEqual([...objects.map(() => "PATCH"), "GET"]);
    for (const r of sent.filter((r) => r.method === "PATCH"))
      expect(r.query["fieldManager"]).toBe(FIELD_MANAGER);
    for (const o of objects) {
      const stored = await getObject(admin(), {
        apiVersion: o.apiVersion,
        kind: o.kind,
        ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
        name: o.metadata.name,
      });
      expect(stored, objectKey(o)).toBeDefined();
      const managers = (
        (stored?.metadata["managedFields"] ?? []) as { manager: string; operation: string }[]
      ).map((m) => `${m.manager}/${m.operation}`);
      expect(managers).toEqual(["asterism/Apply"]);
      // What the server stored is still a valid object of its kind, and carries what we applied.
      const { managedFields: _m, ...meta } = (stored as KubeObject).metadata;
      validateObject({ ...(stored as KubeObject), metadata: meta });
      expect(stored?.metadata.labels).toEqual(o.metadata.labels);
    }
    expect(logger.lines.find((l) => l["msg"] === "manifests.applied")?.["objects"]).toBe(objects.length);
  });

  test("a second apply is idempotent: same objects, no resourceVersion changes", async () => {
    const apply = createManifestApplier({ variant: "qemu-vtpm", logger: createMemoryLogger() });
    await apply(kubeconfigFor(api.url));
    const objects = embeddedManifests("qemu-vtpm");
    const versions = async () =>
      Promise.all(
        objects.map(async (o) => {
          const s = await getObject(admin(), {
            apiVersion: o.apiVersion,
            kind: o.kind,
            ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
            name: o.metadata.name,
          });
          return s?.metadata.resourceVersion;
        }),
      );
    const first = await versions();
    await apply(kubeconfigFor(api.url));
    expect(await versions()).toEqual(first);
  });
});

describe("kubeadm's bootstrap-token CSR auto-approval is removed at init", () => {
  test("after the apply, kubeadm:node-autoapprove-bootstrap is gone; self-renewal and CSR filing stay", async () => {
    const server = await startTestApiServer({
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
    });
    try {
      const client = () =>
        createKubeClient({
          server: server.url,
          tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
        });
      await seedKubeadmCsrBindings(client());
      const get = (name: string) =>
        getObject(client(), {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          name,
        });
      const rotation = await get(KUBEADM_ROTATION_AUTOAPPROVE);
      expect(await get(KUBEADM_BOOTSTRAP_AUTOAPPROVE)).toBeDefined();

      const logger = createMemoryLogger();
      const apply = createManifestApplier({ variant: "qemu-vtpm", logger });
      const before = server.requests.length;
      const out = await apply(kubeconfigFor(server.url));
      expect(out.bootstrapAutoApproval).toBe("deleted");
      expect(await get(KUBEADM_BOOTSTRAP_AUTOAPPROVE)).toBeUndefined();
      // Removed after the manifests, by name, carrying the resourceVersion it read.
      const sent = server.requests.slice(before);
      const del = sent.findIndex((r) => r.method === "DELETE");
      expect(decodeURIComponent(sent[del]?.path ?? "")).toBe(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/kubeadm:node-autoapprove-bootstrap",
      );
      expect(sent.slice(0, del).filter((r) => r.method === "PATCH")).toHaveLength(
        embeddedManifests("qemu-vtpm").length,
      );
      expect(sent.filter((r) => r.method === "DELETE")).toHaveLength(1);
      // Untouched: nodes renewing their own certificate, and token holders filing (unapproved) CSRs.
      expect((await get(KUBEADM_ROTATION_AUTOAPPROVE))?.metadata.resourceVersion).toBe(
        rotation?.metadata.resourceVersion,
      );
      expect(await get("kubeadm:kubelet-bootstrap")).toBeDefined();
      expect(logger.lines.find((l) => l["msg"] === "manifests.kubeadm_autoapprove_removed")?.["result"]).toBe(
        "deleted",
      );

      // Idempotent: a second run (a retried init step) finds nothing to remove and succeeds.
      expect((await apply(kubeconfigFor(server.url))).bootstrapAutoApproval).toBe("absent");
      expect(await get(KUBEADM_ROTATION_AUTOAPPROVE)).toBeDefined();
    } finally {
      await server.stop();
    }
  });

  test("a refused delete (e.g. 409: the binding changed between read and delete) fails the step, typed", async () => {
    const server = await startTestApiServer({});
    try {
      const client = createKubeClient({ server: server.url });
      await seedKubeadmCsrBindings(client);
      // Every DELETE sees a newer resourceVersion than the GET before it: a racing writer.
      const racing = createKubeClient({
        server: server.url,
        fetch: async (url, init) => {
          if (init.method === "DELETE")
            await applyObject(
              client,
              {
                ...(KUBEADM_CSR_BINDINGS[1] as KubeObject),
                metadata: { name: KUBEADM_BOOTSTRAP_AUTOAPPROVE, labels: { touched: "yes" } },
              },
              { fieldManager: "kubeadm" },
            );
          return fetch(url, init);
        },
      });
      const apply = createManifestApplier({
        variant: "qemu-vtpm",
        logger: createMemoryLogger(),
        connect: () => racing,
        delayMs: 1,
      });
      const err = await applyError(apply("unused"));
      expect(err.code).toBe("MANIFESTS_APPLY_FAILED");
      expect(err.message).toContain("CONFLICT");
    } finally {
      await server.stop();
    }
  });
});

describe("failures: typed error, nothing secret logged", () => {
  test("the API server refuses (401): MANIFESTS_APPLY_FAILED at once, no retry", async () => {
    const logger = createMemoryLogger();
    const apply = createManifestApplier({ variant: "qemu-vtpm", logger, delayMs: 1 });
    const err = await applyError(apply(kubeconfigFor(tokenApi.url)));
    expect(err.code).toBe("MANIFESTS_APPLY_FAILED");
    expect(err.message).toContain("API_ERROR");
    expect(logger.lines.filter((l) => l["msg"] === "manifests.retry")).toHaveLength(0);
    expectNoSecret(err.message + JSON.stringify(logger.lines));
  });

  test("an unreachable API server is retried a bounded number of times, then MANIFESTS_APPLY_FAILED", async () => {
    const logger = createMemoryLogger();
    const gone = await startTestApiServer({});
    const url = gone.url;
    await gone.stop();
    const apply = createManifestApplier({ variant: "qemu-vtpm", logger, attempts: 3, delayMs: 1 });
    const err = await applyError(apply(kubeconfigFor(url)));
    expect(err.code).toBe("MANIFESTS_APPLY_FAILED");
    expect(err.message).toContain("TRANSPORT");
    expect(logger.lines.filter((l) => l["msg"] === "manifests.retry")).toHaveLength(2);
    expectNoSecret(err.message + JSON.stringify(logger.lines));
  });

  test("an object the server refuses stops the run with MANIFESTS_APPLY_FAILED", async () => {
    const objects: KubeObject[] = [
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "no-such-namespace" } },
    ];
    const apply = createManifestApplier({ variant: "qemu-vtpm", logger: createMemoryLogger(), objects });
    const err = await applyError(apply(kubeconfigFor(api.url)));
    expect(err.code).toBe("MANIFESTS_APPLY_FAILED");
    expect(err.message).toContain("NOT_FOUND");
  });

  test.each([
    ["not YAML", "{"],
    ["no user", stringify({ clusters: [{ cluster: { server: "https://127.0.0.1:1" } }] })],
    ["key not base64", () => kubeconfigFor(api.url).replace(b64(pki.clientKey), `${b64(pki.clientKey)}==x`)],
  ])("an unusable admin kubeconfig (%s) is refused without echoing it", (_name, input) => {
    const text = typeof input === "function" ? input() : input;
    let caught: unknown;
    try {
      kubeClientFromKubeconfig(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(BootstrapperError);
    expect((caught as BootstrapperError).code).toBe("MANIFESTS_APPLY_FAILED");
    expectNoSecret((caught as Error).message);
  });
});
