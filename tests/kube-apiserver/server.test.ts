import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { startTestApiServer, type TestApiServer } from "./index.ts";

// bunfig's [test] timeout is not applied by Bun 1.4.5; slow steps (TLS, compile, umoci) need more than 5 s on a loaded machine.
setDefaultTimeout(30_000);

let api: TestApiServer;
beforeAll(async () => {
  api = await startTestApiServer();
});
afterAll(async () => {
  await api.stop();
});

async function call(method: string, path: string, body?: unknown, contentType = "application/json") {
  const res = await fetch(api.url + path, {
    method,
    headers: body === undefined ? {} : { "content-type": contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { metadata?: Record<string, unknown> },
  };
}

const cm = (name: string, data: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "default", ...extra },
  data,
});
const CM_PATH = "/api/v1/namespaces/default/configmaps";

describe("discovery", () => {
  test.each([
    ["/api", "APIVersions"],
    ["/apis", "APIGroupList"],
    ["/api/v1", "APIResourceList"],
    ["/apis/apps/v1", "APIResourceList"],
    ["/apis/networking.k8s.io/v1", "APIResourceList"],
  ])("%s answers %s", async (path, kind) => {
    const r = await call("GET", path);
    expect(r.status).toBe(200);
    expect(r.body["kind"]).toBe(kind);
  });
  test("unknown group version is 404", async () => {
    expect((await call("GET", "/apis/example.com/v1")).status).toBe(404);
  });
});

describe("CRUD with resourceVersion compare-and-swap", () => {
  test("create, get, list, conflicting create", async () => {
    const created = await call("POST", CM_PATH, cm("crud", { a: "1" }));
    expect(created.status).toBe(201);
    expect(created.body.metadata?.["resourceVersion"]).toBeString();
    expect(created.body.metadata?.["uid"]).toBeString();
    expect((await call("GET", `${CM_PATH}/crud`)).body["data"]).toEqual({ a: "1" });
    const list = await call("GET", `${CM_PATH}`);
    expect(list.body["kind"]).toBe("ConfigMapList");
    expect((list.body["items"] as unknown[]).length).toBeGreaterThanOrEqual(1);
    const again = await call("POST", CM_PATH, cm("crud", { a: "2" }));
    expect(again.status).toBe(409);
    expect(again.body["reason"]).toBe("AlreadyExists");
  });

  test("PUT with the current resourceVersion succeeds, a stale one is 409", async () => {
    const created = await call("POST", CM_PATH, cm("cas", { v: "1" }));
    const rv = created.body.metadata?.["resourceVersion"] as string;
    const ok = await call("PUT", `${CM_PATH}/cas`, cm("cas", { v: "2" }, { resourceVersion: rv }));
    expect(ok.status).toBe(200);
    expect(ok.body.metadata?.["resourceVersion"]).not.toBe(rv);
    expect(ok.body.metadata?.["uid"]).toBe(created.body.metadata?.["uid"]);
    const stale = await call("PUT", `${CM_PATH}/cas`, cm("cas", { v: "3" }, { resourceVersion: rv }));
    expect(stale.status).toBe(409);
    expect(stale.body["reason"]).toBe("Conflict");
    expect((await call("GET", `${CM_PATH}/cas`)).body["data"]).toEqual({ v: "2" });
  });

  test("DELETE honours a resourceVersion precondition", async () => {
    const created = await call("POST", CM_PATH, cm("del", { v: "1" }));
    const rv = created.body.metadata?.["resourceVersion"] as string;
    await call("PUT", `${CM_PATH}/del`, cm("del", { v: "2" }));
    expect((await call("DELETE", `${CM_PATH}/del`, { preconditions: { resourceVersion: rv } })).status).toBe(
      409,
    );
    expect((await call("DELETE", `${CM_PATH}/del`)).status).toBe(200);
    expect((await call("GET", `${CM_PATH}/del`)).status).toBe(404);
  });

  test("merge patch", async () => {
    await call("POST", CM_PATH, cm("mp", { a: "1", b: "2" }));
    const r = await call(
      "PATCH",
      `${CM_PATH}/mp`,
      { data: { a: null, c: "3" } },
      "application/merge-patch+json",
    );
    expect(r.status).toBe(200);
    expect(r.body["data"]).toEqual({ b: "2", c: "3" });
  });

  test("label selectors filter lists", async () => {
    await call("POST", CM_PATH, cm("sel-a", {}, { labels: { tier: "x" } }));
    await call("POST", CM_PATH, cm("sel-b", {}, { labels: { tier: "y" } }));
    const r = await call("GET", `${CM_PATH}?labelSelector=tier%3Dx`);
    expect((r.body["items"] as { metadata: { name: string } }[]).map((i) => i.metadata.name)).toEqual([
      "sel-a",
    ]);
  });
});

describe("rejections", () => {
  test.each([
    {
      name: "invalid DaemonSet (no selector) is 422",
      path: "/apis/apps/v1/namespaces/default/daemonsets",
      body: { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "x" }, spec: { template: {} } },
      status: 422,
      reason: "Invalid",
    },
    {
      name: "Service port as a string is 422",
      path: "/api/v1/namespaces/default/services",
      body: { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { ports: [{ port: "80" }] } },
      status: 422,
      reason: "Invalid",
    },
    {
      name: "unknown field is 422 (always strict field validation)",
      path: "/api/v1/namespaces/default/configmaps",
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "u" }, dta: { a: "b" } },
      status: 422,
      reason: "Invalid",
    },
    {
      name: "object in a missing namespace is 404",
      path: "/api/v1/namespaces/nope/configmaps",
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } },
      status: 404,
      reason: "NotFound",
    },
    {
      name: "kind that does not match the URL is 400",
      path: "/api/v1/namespaces/default/secrets",
      body: cm("x", {}),
      status: 400,
      reason: "BadRequest",
    },
  ])("$name", async ({ path, body, status, reason }) => {
    const r = await call("POST", path, body);
    expect(r.status).toBe(status);
    expect(r.body["kind"]).toBe("Status");
    expect(r.body["reason"]).toBe(reason);
  });

  test("strategic merge patch is not modelled: 415", async () => {
    await call("POST", CM_PATH, cm("smp", {}));
    const r = await call("PATCH", `${CM_PATH}/smp`, { data: {} }, "application/strategic-merge-patch+json");
    expect(r.status).toBe(415);
  });
});

describe("server-side apply", () => {
  const path = `${CM_PATH}/ssa`;
  const apply = (body: unknown, query: string) =>
    call("PATCH", `${path}?${query}`, body, "application/apply-patch+yaml");

  test("creates, updates, removes fields the manager dropped, and keeps no-op applies silent", async () => {
    const first = await apply(cm("ssa", { a: "1", b: "2" }), "fieldManager=asterism&force=true");
    expect(first.status).toBe(201);
    const second = await apply(cm("ssa", { a: "1" }), "fieldManager=asterism&force=true");
    expect(second.status).toBe(200);
    expect(second.body["data"]).toEqual({ a: "1" });
    const rv = second.body.metadata?.["resourceVersion"];
    const third = await apply(cm("ssa", { a: "1" }), "fieldManager=asterism&force=true");
    expect(third.body.metadata?.["resourceVersion"]).toBe(rv);
  });

  test("another manager's field: conflict without force, taken over with force", async () => {
    await apply(cm("ssa", { a: "1" }), "fieldManager=asterism&force=true");
    const clash = await apply(cm("ssa", { a: "other" }), "fieldManager=operator");
    expect(clash.status).toBe(409);
    expect(clash.body["reason"]).toBe("Conflict");
    const forced = await apply(cm("ssa", { a: "other" }), "fieldManager=operator&force=true");
    expect(forced.status).toBe(200);
    expect(forced.body["data"]).toEqual({ a: "other" });
  });

  test("apply without fieldManager is 400", async () => {
    expect((await apply(cm("ssa", {}), "force=true")).status).toBe(400);
  });

  test("an invalid applied configuration is 422 and changes nothing", async () => {
    const before = await call("GET", path);
    const bad = await apply({ ...cm("ssa", {}), data: { a: 1 } }, "fieldManager=asterism&force=true");
    expect(bad.status).toBe(422);
    expect((await call("GET", path)).body).toEqual(before.body);
  });
});

test("@kubernetes/client-node works against it (plain HTTP needs skipTLSVerify)", async () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "t", server: api.url, skipTLSVerify: true }],
    users: [{ name: "u" }],
    contexts: [{ name: "c", cluster: "t", user: "u" }],
    currentContext: "c",
  });
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedSecret({
    namespace: "default",
    body: { metadata: { name: "from-client-node" }, type: "Opaque", data: { k: btoa("v") } },
  });
  const got = await core.readNamespacedSecret({ namespace: "default", name: "from-client-node" });
  expect(got.data?.["k"]).toBe(btoa("v"));
  const list = await core.listNamespacedSecret({ namespace: "default" });
  expect(list.items.map((s) => s.metadata?.name)).toContain("from-client-node");
  await core.deleteNamespacedSecret({ namespace: "default", name: "from-client-node" });
});

describe("authentication and authorization", () => {
  test("tokens map to users (read per request); the authorizer sees the real verbs; 401 and 403", async () => {
    const users = new Map([["t-admin", "admin"]]);
    const seen: string[] = [];
    const authz = await startTestApiServer({
      users,
      authorize: (a) => {
        seen.push(`${a.user} ${a.verb} ${a.apiGroup}/${a.resource} ${a.namespace ?? "-"}/${a.name ?? "-"}`);
        return a.user === "admin" || a.verb === "get";
      },
    });
    try {
      const req = (token: string | undefined, method: string, path: string, body?: unknown) =>
        fetch(authz.url + path, {
          method,
          headers: {
            ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        }).then((r) => r.status);
      expect(await req(undefined, "GET", CM_PATH)).toBe(401);
      expect(await req("unknown", "GET", CM_PATH)).toBe(401);
      expect(await req("t-admin", "POST", CM_PATH, cm("authz", { a: "1" }))).toBe(201);
      users.set("t-reader", "reader"); // a rotated or added token counts from the next request
      expect(await req("t-reader", "GET", `${CM_PATH}/authz`)).toBe(200);
      expect(await req("t-reader", "GET", CM_PATH)).toBe(403);
      expect(await req("t-reader", "GET", `${CM_PATH}?watch=true`)).toBe(403);
      expect(await req("t-reader", "PUT", `${CM_PATH}/authz`, cm("authz", { a: "2" }))).toBe(403);
      expect(await req("t-reader", "DELETE", CM_PATH)).toBe(403);
      expect(await req("t-reader", "GET", "/apis/apps/v1/daemonsets")).toBe(403);
      expect(seen).toEqual([
        "admin create /configmaps default/-",
        "reader get /configmaps default/authz",
        "reader list /configmaps default/-",
        "reader watch /configmaps default/-",
        "reader update /configmaps default/authz",
        "reader deletecollection /configmaps default/-",
        "reader list apps/daemonsets -/-",
      ]);
      expect(authz.requests.map((r) => r.status)).toEqual([401, 401, 201, 200, 403, 403, 403, 403, 403]);
    } finally {
      await authz.stop();
    }
  });
});
