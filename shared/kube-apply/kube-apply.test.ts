import { describe, expect, test } from "bun:test";
import {
  createKubeClient,
  createObject,
  KubeError,
  type KubeErrorCode,
  type KubeFetch,
  RESOURCES,
  resourceFor,
  resourcePath,
  schemaViolations,
  sortForApply,
  validateObject,
} from "./index.ts";

function codeOf(fn: () => unknown): KubeErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof KubeError) return err.code;
    throw err;
  }
  throw new Error("expected a KubeError");
}

describe("resource table", () => {
  test.each([
    [
      "v1",
      "Secret",
      "kube-system",
      "bootstrap-token-abcdef",
      "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef",
    ],
    [
      "apps/v1",
      "DaemonSet",
      "asterism-system",
      "kms",
      "/apis/apps/v1/namespaces/asterism-system/daemonsets/kms",
    ],
    [
      "networking.k8s.io/v1",
      "NetworkPolicy",
      "n",
      "p",
      "/apis/networking.k8s.io/v1/namespaces/n/networkpolicies/p",
    ],
    ["v1", "Namespace", undefined, "asterism-system", "/api/v1/namespaces/asterism-system"],
    [
      "admissionregistration.k8s.io/v1",
      "ValidatingAdmissionPolicy",
      undefined,
      "p",
      "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/p",
    ],
  ])("%s %s → path", (apiVersion, kind, ns, name, want) => {
    expect(resourcePath(resourceFor(apiVersion, kind), ns, name)).toBe(want);
  });

  test("names are URL-encoded, so a hostile name cannot change the path", () => {
    expect(resourcePath(resourceFor("v1", "ConfigMap"), "n", "../../secrets/x")).toBe(
      "/api/v1/namespaces/n/configmaps/..%2F..%2Fsecrets%2Fx",
    );
  });

  test.each([
    { name: "unknown kind", fn: () => resourceFor("v1", "Pod"), want: "UNKNOWN_KIND" },
    {
      name: "wrong group for a kind",
      fn: () => resourceFor("extensions/v1beta1", "DaemonSet"),
      want: "UNKNOWN_KIND",
    },
    {
      name: "namespaced kind without namespace",
      fn: () => resourcePath(resourceFor("v1", "Secret"), undefined, "x"),
      want: "INVALID_OBJECT",
    },
  ])("$name", ({ fn, want }) => {
    expect(codeOf(fn)).toBe(want as KubeErrorCode);
  });

  test("apply order puts namespaces first and workloads last", () => {
    const objs = [...RESOURCES].reverse().map((r) => ({
      apiVersion: r.group === "" ? r.version : `${r.group}/${r.version}`,
      kind: r.kind,
      metadata: { name: "x" },
    }));
    const sorted = sortForApply(objs).map((o) => o.kind);
    expect(sorted[0]).toBe("Namespace");
    expect(sorted.at(-1)).toBe("DaemonSet");
  });
});

describe("validateObject", () => {
  test("a valid Secret passes", () => {
    expect(
      validateObject({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" }, data: { a: "YQ==" } }).kind,
    ).toBe("Secret");
  });
  test.each([
    { name: "not an object", value: "x", want: "INVALID_OBJECT" },
    {
      name: "no metadata.name",
      value: { apiVersion: "v1", kind: "ConfigMap", metadata: {} },
      want: "INVALID_OBJECT",
    },
    {
      name: "ConfigMap data not strings",
      value: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: 1 } },
      want: "INVALID_OBJECT",
    },
    {
      name: "DaemonSet without selector",
      value: { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "d" }, spec: { template: {} } },
      want: "INVALID_OBJECT",
    },
    {
      name: "unknown kind",
      value: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" } },
      want: "UNKNOWN_KIND",
    },
    {
      name: "unknown top-level field (typo of data)",
      value: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, dat: { a: "b" } },
      want: "INVALID_OBJECT",
    },
    {
      name: "typo in a security field (runAsNonroot) is not silently dropped",
      value: {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "d" },
        spec: {
          selector: {},
          template: {
            spec: { containers: [{ name: "c", image: "i:1", securityContext: { runAsNonroot: true } }] },
          },
        },
      },
      want: "INVALID_OBJECT",
    },
  ])("$name → $want", ({ value, want }) => {
    expect(codeOf(() => validateObject(value))).toBe(want as KubeErrorCode);
  });
  test("schemaViolations names the field", () => {
    const v = schemaViolations({
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "d" },
      spec: { template: {} },
    });
    expect(v.map((x) => x.message).join(" ")).toContain("selector");
  });
});

describe("client", () => {
  const fake =
    (status: number, body: unknown, seen?: { url?: string; init?: RequestInit }): KubeFetch =>
    async (url, init) => {
      if (seen !== undefined) {
        seen.url = url;
        seen.init = init;
      }
      return new Response(typeof body === "string" ? body : JSON.stringify(body), { status });
    };

  test("sends the bearer token, JSON body and query", async () => {
    const seen: { url?: string; init?: RequestInit } = {};
    const c = createKubeClient({
      server: "https://k:6443/",
      token: "t0k",
      fetch: fake(200, { ok: 1 }, seen),
    });
    expect(
      await c.request({ method: "POST", path: "/api/v1/x", query: { a: "b c" }, body: { k: 1 } }),
    ).toEqual({ ok: 1 });
    expect(seen.url).toBe("https://k:6443/api/v1/x?a=b+c");
    expect((seen.init?.headers as Record<string, string> | undefined)?.["authorization"]).toBe("Bearer t0k");
    expect(seen.init?.body).toBe('{"k":1}');
  });

  test.each([
    { status: 404, want: "NOT_FOUND" },
    { status: 409, want: "CONFLICT" },
    { status: 422, want: "API_ERROR" },
    { status: 500, want: "API_ERROR" },
  ])("HTTP $status → $want", async ({ status, want }) => {
    const c = createKubeClient({
      server: "https://k",
      fetch: fake(status, { kind: "Status", reason: "R", message: "m" }),
    });
    const err = await c.request({ method: "GET", path: "/api/v1/x" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).code).toBe(want as KubeErrorCode);
    expect((err as KubeError).status).toBe(status);
  });

  test("a 2xx body that is not JSON is INVALID_RESPONSE", async () => {
    const c = createKubeClient({ server: "https://k", fetch: fake(200, "<html>") });
    const err = await c.request({ method: "GET", path: "/api/v1/x" }).catch((e: unknown) => e);
    expect((err as KubeError).code).toBe("INVALID_RESPONSE");
  });

  test("a failing fetch is TRANSPORT and the token does not leak into the message", async () => {
    const c = createKubeClient({
      server: "https://k",
      token: "secret-token",
      fetch: async () => {
        throw new Error("connection refused");
      },
    });
    const err = (await c.request({ method: "GET", path: "/api/v1/x" }).catch((e: unknown) => e)) as KubeError;
    expect(err.code).toBe("TRANSPORT");
    expect(err.message).not.toContain("secret-token");
  });
});

describe("createObject", () => {
  const cm = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "n" },
    data: { k: "v" },
  };
  /** A fetch answering each request with the next (status, body) and recording method + URL. */
  const script = (answers: [number, unknown][], seen: string[]): KubeFetch => {
    let i = 0;
    return async (url, init) => {
      seen.push(`${init.method} ${url}`);
      const [status, body] = answers[i++] ?? [500, {}];
      return new Response(JSON.stringify(body), { status });
    };
  };
  const conflict = { kind: "Status", reason: "AlreadyExists", message: "exists" };

  test("POSTs to the collection with strict field validation", async () => {
    const seen: string[] = [];
    const c = createKubeClient({
      server: "https://k",
      fetch: script([[201, { ...cm, metadata: { ...cm.metadata, uid: "u" } }]], seen),
    });
    const r = await createObject(c, cm);
    expect(r.created).toBe(true);
    expect(seen).toEqual(["POST https://k/api/v1/namespaces/n/configmaps?fieldValidation=Strict"]);
  });

  test("an existing object is read back and returned unchanged, never overwritten", async () => {
    const seen: string[] = [];
    const stored = { ...cm, data: { k: "other" } };
    const c = createKubeClient({
      server: "https://k",
      fetch: script(
        [
          [409, conflict],
          [200, stored],
        ],
        seen,
      ),
    });
    expect(await createObject(c, cm)).toEqual({ created: false, object: stored });
    expect(seen).toEqual([
      "POST https://k/api/v1/namespaces/n/configmaps?fieldValidation=Strict",
      "GET https://k/api/v1/namespaces/n/configmaps/c",
    ]);
  });

  test.each([
    {
      name: "deleted between the conflict and the read",
      answers: [
        [409, conflict],
        [404, {}],
      ],
      want: "CONFLICT",
    },
    {
      name: "a refusal other than a conflict",
      answers: [[422, { kind: "Status", reason: "Invalid" }]],
      want: "API_ERROR",
    },
  ] as { name: string; answers: [number, unknown][]; want: KubeErrorCode }[])(
    "$name → $want",
    async ({ answers, want }) => {
      const c = createKubeClient({ server: "https://k", fetch: script(answers, []) });
      const err = await createObject(c, cm).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeError);
      expect((err as KubeError).code).toBe(want);
    },
  );

  test("an invalid object never reaches the server", async () => {
    const seen: string[] = [];
    const c = createKubeClient({ server: "https://k", fetch: script([], seen) });
    const err = await createObject(c, { ...cm, data: { k: 1 } } as never).catch((e: unknown) => e);
    expect((err as KubeError).code).toBe("INVALID_OBJECT");
    expect(seen).toEqual([]);
  });
});
