// The bootstrapper's apply step (issue 10): rendered overlays are applied with server-side apply through
// shared/kube-apply over mutual TLS (Bun fetch `tls`), against the test API server, which validates every
// stored object with kubernetes-models.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import {
  applyAll,
  createKubeClient,
  deleteObject,
  getObject,
  KubeError,
  type KubeErrorCode,
  type KubeObject,
  objectKey,
} from "@asterism/kube-apply";
import { repoRoot } from "@asterism/testing";
import { renderKustomization } from "../../k8s/render/index.ts";
import {
  createTestPki,
  startTestApiServer,
  type TestApiServer,
  type TestPki,
} from "../kube-apiserver/index.ts";

let pki: TestPki;
let api: TestApiServer;
let tokenApi: TestApiServer;

setDefaultTimeout(30_000);

beforeAll(async () => {
  pki = createTestPki();
  api = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
  });
  tokenApi = await startTestApiServer({ token: "good-token" });
});
afterAll(async () => {
  await api?.stop();
  await tokenApi?.stop();
});

const overlay = (name: string) => renderKustomization(join(repoRoot, "k8s", "overlays", name));
const client = () =>
  createKubeClient({ server: api.url, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });

async function kubeErrorCode(
  p: Promise<unknown>,
): Promise<{ code: KubeErrorCode; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof KubeError) return { code: err.code, status: err.status };
    throw err;
  }
  throw new Error("expected a KubeError");
}

describe("applying rendered overlays over mutual TLS", () => {
  test("the qemu overlay: every object stored, namespace first, SSA with field manager asterism", async () => {
    const objects = overlay("qemu");
    const before = api.requests.length;
    const results = await applyAll(client(), objects);
    expect(results.map((r) => r.key).sort()).toEqual(objects.map(objectKey).sort());
    const sent = api.requests.slice(before);
    expect(sent).toHaveLength(objects.length);
    for (const r of sent) {
      expect(r.method).toBe("PATCH");
      expect(r.contentType).toBe("application/apply-patch+yaml");
      expect(r.query).toEqual({ fieldManager: "asterism", force: "true", fieldValidation: "Strict" });
    }
    expect(sent[0]?.path).toBe("/api/v1/namespaces/asterism-system");
    const role = await getObject(client(), {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      namespace: "kube-system",
      name: "asterism-join-service",
    });
    expect(role?.metadata.resourceVersion).toBeString();
  });

  test("re-applying is a no-op (resourceVersions unchanged)", async () => {
    const objects = overlay("qemu");
    const first = await applyAll(client(), objects);
    const second = await applyAll(client(), objects);
    expect(second.map((r) => r.object.metadata.resourceVersion)).toEqual(
      first.map((r) => r.object.metadata.resourceVersion),
    );
  });

  test("switching overlay updates in place and drops what the old apply set", async () => {
    await applyAll(client(), overlay("qemu"));
    await applyAll(client(), overlay("aws"));
    const ds = (await getObject(client(), {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      namespace: "asterism-system",
      name: "verification-service",
    })) as KubeObject & { spec: { template: { spec: { volumes: { name: string }[] } } } };
    expect(ds.metadata.labels?.["asterism.dev/variant"]).toBe("aws-sev-snp");
    expect(ds.spec.template.spec.volumes.map((v) => v.name)).toContain("sev-guest");
    await applyAll(client(), overlay("qemu"));
    const back = (await getObject(client(), {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      namespace: "asterism-system",
      name: "verification-service",
    })) as typeof ds;
    expect(back.spec.template.spec.volumes.map((v) => v.name)).not.toContain("sev-guest");
  });

  test("getObject: a missing object is undefined", async () => {
    expect(
      await getObject(client(), {
        apiVersion: "v1",
        kind: "Secret",
        namespace: "asterism-system",
        name: "kms-tls",
      }),
    ).toBeUndefined();
  });
});

describe("deleteObject", () => {
  const NAMESPACE: KubeObject = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "asterism-system" },
  };
  const cm = (name: string): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "asterism-system" },
    data: { a: "1" },
  });
  const ref = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", namespace: "asterism-system", name });

  test("deletes once, then reports absent (idempotent)", async () => {
    await applyAll(client(), [NAMESPACE, cm("to-delete")]);
    expect(await deleteObject(client(), ref("to-delete"))).toBe("deleted");
    expect(await getObject(client(), ref("to-delete"))).toBeUndefined();
    expect(await deleteObject(client(), ref("to-delete"))).toBe("absent");
  });

  test("with a resourceVersion precondition: a stale version is CONFLICT and nothing is deleted", async () => {
    const [, first] = await applyAll(client(), [NAMESPACE, cm("guarded")]);
    const stale = first?.object.metadata.resourceVersion as string;
    await applyAll(client(), [{ ...cm("guarded"), data: { a: "2" } }]);
    expect(
      (await kubeErrorCode(deleteObject(client(), ref("guarded"), { resourceVersion: stale }))).code,
    ).toBe("CONFLICT");
    const now = await getObject(client(), ref("guarded"));
    expect(now).toBeDefined();
    expect(
      await deleteObject(client(), ref("guarded"), {
        resourceVersion: now?.metadata.resourceVersion as string,
      }),
    ).toBe("deleted");
  });

  test("other failures are typed (401 without the token)", async () => {
    const anon = createKubeClient({ server: tokenApi.url });
    expect((await kubeErrorCode(deleteObject(anon, ref("x")))).code).toBe("API_ERROR");
  });
});

describe("rejections", () => {
  test("no client certificate: TLS handshake refused", async () => {
    const noCert = createKubeClient({ server: api.url, tls: { ca: pki.ca } });
    expect((await kubeErrorCode(applyAll(noCert, overlay("qemu")))).code).toBe("TRANSPORT");
  });

  test("server not signed by the configured CA: refused", async () => {
    const wrongCa = createKubeClient({
      server: api.url,
      tls: { ca: pki.otherCa, cert: pki.clientCert, key: pki.clientKey },
    });
    expect((await kubeErrorCode(applyAll(wrongCa, overlay("qemu")))).code).toBe("TRANSPORT");
  });

  test("wrong bearer token: 401", async () => {
    const bad = createKubeClient({ server: tokenApi.url, token: "bad-token" });
    expect(await kubeErrorCode(applyAll(bad, overlay("qemu")))).toEqual({ code: "API_ERROR", status: 401 });
    const good = createKubeClient({ server: tokenApi.url, token: "good-token" });
    expect((await applyAll(good, overlay("qemu"))).length).toBeGreaterThan(20);
  });

  test("an invalid object stops the whole set before the first request", async () => {
    const objects = overlay("qemu");
    const ds = objects.find((o) => o.kind === "DaemonSet") as KubeObject & { spec: Record<string, unknown> };
    delete ds.spec["selector"];
    const before = api.requests.length;
    expect((await kubeErrorCode(applyAll(client(), objects))).code).toBe("INVALID_OBJECT");
    expect(api.requests.length).toBe(before);
  });

  test("an unknown kind is refused, never guessed", async () => {
    const objects: KubeObject[] = [
      { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default" } },
    ];
    expect((await kubeErrorCode(applyAll(client(), objects))).code).toBe("UNKNOWN_KIND");
  });

  test("the API server's own validation (422) surfaces as API_ERROR", async () => {
    // Valid for our pre-flight schema, but the server refuses: the namespace in the body differs from the path.
    const c = createKubeClient({
      server: api.url,
      tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
    });
    const res = await kubeErrorCode(
      c.request({
        method: "PATCH",
        path: "/api/v1/namespaces/default/configmaps/x",
        query: { fieldManager: "asterism", force: "true" },
        body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" }, data: { a: 1 } },
        contentType: "application/apply-patch+yaml",
      }),
    );
    expect(res).toEqual({ code: "API_ERROR", status: 422 });
  });

  test("objects in a namespace that does not exist: NOT_FOUND", async () => {
    const objects: KubeObject[] = [
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "missing" } } as KubeObject,
    ];
    expect((await kubeErrorCode(applyAll(client(), objects))).code).toBe("NOT_FOUND");
  });
});
