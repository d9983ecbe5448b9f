import { describe, expect, test } from "bun:test";
import { toBase64, toHex } from "@asterism/bytes";
import {
  ClusterKeys,
  createAesKwKek,
  createKekRing,
  createMemoryKeyStore,
  deriveKey,
  KekError,
  UserManagedKeys,
} from "@asterism/keys";
import { createClusterKeySource, createUserKeySource, type KeySource } from "./key-source.ts";
import { BOOT, JOIN, testApp, verified } from "./test-helpers.ts";

// VECTORS.md V8 inputs: master key 00..1f, salt 20..3f.
const masterKey = () => Uint8Array.from({ length: 32 }, (_, i) => i);
const masterSalt = () => Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i);
const UUID = "12345678-1234-1234-1234-123456789abc";
const clusterSource = async () => createClusterKeySource(await ClusterKeys.create(masterKey(), masterSalt()));

const post = (body: unknown, headers: Record<string, string> = { "content-type": "application/json" }) => ({
  method: "POST",
  headers,
  body: typeof body === "string" ? body : JSON.stringify(body),
});

describe("authorization (only JoinService and bootstrapper)", () => {
  test.each([
    { name: "no certificate", env: {}, status: 401, code: "UNAUTHENTICATED" },
    {
      name: "untrusted certificate",
      env: { peer: { status: "untrusted", reason: "CHAIN" } },
      status: 401,
      code: "UNAUTHENTICATED",
    },
    {
      name: "verified, other identity",
      env: verified("asterism://node-agent"),
      status: 403,
      code: "FORBIDDEN",
    },
    {
      name: "monitoring identity on a key route",
      env: verified("asterism://monitoring"),
      status: 403,
      code: "FORBIDDEN",
    },
  ])("$name → $status with no detail", async ({ env, status, code }) => {
    const { app } = testApp(await clusterSource());
    for (const res of [
      await app.request(`/v1/data-keys/${UUID}?length=32`, {}, env),
      await app.request("/v1/data-keys", post({ id: UUID, length: 32 }), env),
    ]) {
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ domain: "kms", code });
    }
  });

  test("auth is checked before the body is even parsed", async () => {
    const { app } = testApp(await clusterSource());
    const res = await app.request("/v1/data-keys", post("{not json"), {});
    expect(res.status).toBe(401);
  });

  test.each([
    { name: "JoinService may read measurementSecret", who: JOIN, id: "measurementSecret", status: 200 },
    { name: "bootstrapper may not read measurementSecret", who: BOOT, id: "measurementSecret", status: 403 },
    { name: "unlisted named id is refused", who: JOIN, id: "ca_emergency_ssh", status: 403 },
  ])("$name", async ({ who, id, status }) => {
    const { app } = testApp(await clusterSource());
    const res = await app.request(`/v1/data-keys/${id}?length=32`, {}, verified(who));
    expect(res.status).toBe(status);
  });
});

describe("cluster-managed mode", () => {
  test("GET and POST return Constellation's key for the id (VECTORS.md V8)", async () => {
    const { app, logger } = testApp(await clusterSource());
    const want = await deriveKey({ secret: masterKey(), salt: masterSalt(), purpose: "diskKey", id: UUID });
    expect(toHex(want)).toBe("5496ddb2cd95248d97b2cb9de365810fa6bfa269cb4302eb386ecfff349871a5");
    const a = await app.request(`/v1/data-keys/${UUID}?length=32`, {}, verified(JOIN));
    const b = await app.request("/v1/data-keys", post({ id: UUID, length: 32 }), verified(BOOT));
    for (const res of [a, b]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ id: UUID, length: 32, version: 1, key: toBase64(want) });
    }
    const releases = logger.lines.filter((r) => r["msg"] === "kms.key_released");
    expect(releases.map((r) => r["caller"])).toEqual([JOIN, BOOT]);
    expect(releases[0]!).toMatchObject({
      id: UUID,
      time: "2026-11-25T00:00:00.000Z",
      mode: "cluster",
    });
    expect(JSON.stringify(logger.lines)).not.toContain(toBase64(want));
    expect(JSON.stringify(logger.lines)).not.toContain(toHex(want));
  });

  test("the measurement secret matches V8", async () => {
    const { app } = testApp(await clusterSource());
    const res = await app.request("/v1/data-keys/measurementSecret?length=32", {}, verified(JOIN));
    const { key } = (await res.json()) as { key: string };
    expect(toHex(Buffer.from(key, "base64"))).toBe(
      "ea7fedd14f5a29b1b8545592fc20bfdae06918e4ff447b1a0b8e4f3356005bda",
    );
  });
});

describe("bad input → typed 4xx, service keeps running", () => {
  const cases: { name: string; req: () => [string, RequestInit]; status: number; code: string }[] = [
    {
      name: "empty id (POST)",
      req: () => ["/v1/data-keys", post({ id: "", length: 32 })],
      status: 400,
      code: "INVALID_KEY_ID",
    },
    {
      name: "upper-case UUID",
      req: () => ["/v1/data-keys", post({ id: UUID.toUpperCase(), length: 32 })],
      status: 400,
      code: "INVALID_KEY_ID",
    },
    {
      name: "path-like id",
      req: () => ["/v1/data-keys", post({ id: "../../etc/passwd", length: 32 })],
      status: 400,
      code: "INVALID_KEY_ID",
    },
    {
      name: "id too long",
      req: () => ["/v1/data-keys", post({ id: "a".repeat(200), length: 32 })],
      status: 400,
      code: "INVALID_REQUEST",
    },
    {
      name: "length 0",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 0 })],
      status: 400,
      code: "INVALID_LENGTH",
    },
    {
      name: "length 4097",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 4097 })],
      status: 400,
      code: "INVALID_LENGTH",
    },
    {
      name: "length 1e9",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 1e9 })],
      status: 400,
      code: "INVALID_LENGTH",
    },
    {
      name: "length as string",
      req: () => ["/v1/data-keys", post({ id: UUID, length: "32" })],
      status: 400,
      code: "INVALID_REQUEST",
    },
    {
      name: "fractional length",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 1.5 })],
      status: 400,
      code: "INVALID_REQUEST",
    },
    {
      name: "unknown field",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 32, x: 1 })],
      status: 400,
      code: "INVALID_REQUEST",
    },
    {
      name: "unknown version",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 32, version: 2 })],
      status: 400,
      code: "UNKNOWN_KEY_VERSION",
    },
    {
      name: "GET unknown version",
      req: () => [`/v1/data-keys/${UUID}?length=32&version=7`, {}],
      status: 400,
      code: "UNKNOWN_KEY_VERSION",
    },
    {
      name: "GET without length",
      req: () => [`/v1/data-keys/${UUID}`, {}],
      status: 400,
      code: "INVALID_LENGTH",
    },
    {
      name: "GET length 0",
      req: () => [`/v1/data-keys/${UUID}?length=0`, {}],
      status: 400,
      code: "INVALID_LENGTH",
    },
    {
      name: "GET length 4097",
      req: () => [`/v1/data-keys/${UUID}?length=4097`, {}],
      status: 400,
      code: "INVALID_LENGTH",
    },
    {
      name: "GET length 032",
      req: () => [`/v1/data-keys/${UUID}?length=032`, {}],
      status: 400,
      code: "INVALID_LENGTH",
    },
    {
      name: "GET malformed id",
      req: () => ["/v1/data-keys/a%2Fb?length=32", {}],
      status: 400,
      code: "INVALID_KEY_ID",
    },
    { name: "not JSON", req: () => ["/v1/data-keys", post("{")], status: 400, code: "INVALID_JSON" },
    {
      name: "invalid UTF-8",
      req: () => [
        "/v1/data-keys",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: new Uint8Array([0x22, 0xff, 0x22]),
        },
      ],
      status: 400,
      code: "INVALID_JSON",
    },
    { name: "JSON array", req: () => ["/v1/data-keys", post([1, 2])], status: 400, code: "INVALID_REQUEST" },
    { name: "JSON null", req: () => ["/v1/data-keys", post("null")], status: 400, code: "INVALID_REQUEST" },
    {
      name: "wrong content type",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 32 }, { "content-type": "text/plain" })],
      status: 415,
      code: "UNSUPPORTED_MEDIA_TYPE",
    },
    {
      name: "oversized body",
      req: () => ["/v1/data-keys", post({ id: UUID, length: 32, pad: "x".repeat(10_000) })],
      status: 413,
      code: "BODY_TOO_LARGE",
    },
    {
      name: "oversized chunked body (no content-length)",
      req: () => [
        "/v1/data-keys",
        {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: new ReadableStream({
            start(ctl) {
              for (let i = 0; i < 10; i++) ctl.enqueue(new TextEncoder().encode(" ".repeat(1000)));
              ctl.close();
            },
          }),
        },
      ],
      status: 413,
      code: "BODY_TOO_LARGE",
    },
    {
      name: "lying content-length",
      req: () => [
        "/v1/data-keys",
        post({ id: UUID, length: 32 }, { "content-type": "application/json", "content-length": "-1" }),
      ],
      status: 413,
      code: "BODY_TOO_LARGE",
    },
    { name: "unknown route", req: () => ["/v1/nope", {}], status: 404, code: "NOT_FOUND" },
  ];
  test.each(cases)("$name → $status $code", async ({ req, status, code }) => {
    const { app } = testApp(await clusterSource());
    const [url, init] = req();
    const res = await app.request(url, init, verified(JOIN));
    expect(res.status).toBe(status);
    const body = (await res.json()) as { code: string; domain: string };
    expect(body.code).toBe(code);
    expect(typeof body.domain).toBe("string");
    expect((await app.request("/healthz")).status).toBe(200);
  });
});

function failingSource(err: Error): KeySource {
  return {
    mode: "user",
    get: async () => {
      throw err;
    },
    getOrCreate: async () => {
      throw err;
    },
    ready: async () => false,
  };
}

describe("server-side failures", () => {
  test("HSM unreachable → 503 HSM_UNAVAILABLE, no detail; health stays up, readiness says no", async () => {
    const { app, logger } = testApp(
      failingSource(new KekError("HSM_UNAVAILABLE", "PKCS#11 session is closed")),
    );
    const res = await app.request("/v1/data-keys", post({ id: UUID, length: 32 }), verified(JOIN));
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ domain: "kek", code: "HSM_UNAVAILABLE" });
    expect((await app.request("/healthz")).status).toBe(200);
    expect((await app.request("/readyz")).status).toBe(503);
    expect(
      logger.lines.some((r) => r["msg"] === "kms.request_failed" && r["code"] === "HSM_UNAVAILABLE"),
    ).toBe(true);
  });

  test("an unexpected exception → 500 INTERNAL without its message", async () => {
    const { app } = testApp(failingSource(new Error("secret internals")));
    const res = await app.request("/v1/data-keys", post({ id: UUID, length: 32 }), verified(JOIN));
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("secret internals");
  });
});

describe("user-managed mode (in-memory KEK)", () => {
  async function userApp() {
    const ring = createKekRing([await createAesKwKek(1, new Uint8Array(32).fill(1))]);
    const umk = new UserManagedKeys({ store: createMemoryKeyStore(), ring: () => ring });
    return testApp(createUserKeySource(umk, () => ring));
  }

  test("create, then get the same key; absent → 404; other length → 409", async () => {
    const { app, metrics } = await userApp();
    expect((await app.request(`/v1/data-keys/${UUID}?length=32`, {}, verified(JOIN))).status).toBe(404);
    const created = (await (
      await app.request("/v1/data-keys", post({ id: UUID, length: 64 }), verified(BOOT))
    ).json()) as {
      key: string;
    };
    const again = (await (
      await app.request(`/v1/data-keys/${UUID}?length=64`, {}, verified(JOIN))
    ).json()) as {
      key: string;
    };
    expect(again.key).toBe(created.key);
    const mismatch = await app.request(`/v1/data-keys/${UUID}?length=32`, {}, verified(JOIN));
    expect(mismatch.status).toBe(409);
    expect(((await mismatch.json()) as { code: string }).code).toBe("LENGTH_MISMATCH");
    expect(metrics.registry.render()).toContain('asterism_kms_keys_created_total{mode="user"} 1');
  });
});

describe("metrics", () => {
  test("Prometheus text for metrics callers only", async () => {
    const { app } = testApp(await clusterSource());
    await app.request(`/v1/data-keys/${UUID}?length=32`, {}, verified(JOIN));
    await app.request(`/v1/data-keys/${UUID}?length=32`, {}, {});
    expect((await app.request("/metrics", {}, {})).status).toBe(401);
    expect((await app.request("/metrics", {}, verified("asterism://node-agent"))).status).toBe(403);
    const res = await app.request("/metrics", {}, verified("asterism://monitoring"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
    const text = await res.text();
    expect(text).toContain(
      'asterism_kms_key_releases_total{caller="asterism://join-service",mode="cluster"} 1',
    );
    expect(text).toContain('asterism_kms_auth_failures_total{reason="NO_CERTIFICATE"} 2');
    expect(text).toContain('asterism_kms_requests_total{route="get_data_key",status="200"} 1');
    expect(text).toMatch(/asterism_kms_request_duration_seconds_bucket\{le="\+Inf",route="get_data_key"\} 2/);
    expect(text.endsWith("\n")).toBe(true);
  });
});
