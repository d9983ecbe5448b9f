import { describe, expect, test } from "bun:test";
import { toBase64 } from "@asterism/bytes";
import { KeysError } from "@asterism/keys";
import { ComponentError, InitSecretError } from "@asterism/kubeadm";
import { ChangeRejectedError } from "@asterism/owner";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { createApp, type Listener, MAX_CONCURRENT_RECOVERIES, RECOVERY_RETRY_AFTER_SECONDS } from "./app.ts";
import { BootstrapperError } from "./errors.ts";

const SECRET = "hunter2-init-secret-value";
const body = JSON.stringify({
  initSecret: toBase64(new TextEncoder().encode(SECRET)),
  masterSecret: { key: toBase64(new Uint8Array(32).fill(1)), salt: toBase64(new Uint8Array(32).fill(2)) },
  measurementSalt: toBase64(new Uint8Array(32)),
  kubernetesVersion: "v1.31.13",
  kubernetesComponents: [],
  serviceCidr: "10.96.0.0/12",
});

function app(listener: Listener, fail?: unknown) {
  const logger = createMemoryLogger();
  const a = createApp(
    {
      node: {
        init: async () => {
          if (fail) throw fail;
          return { clusterId: "00".repeat(32), kubeconfig: "k", kubernetes: { performed: false } };
        },
        recover: async () => {
          if (fail) throw fail;
          return { clusterId: "00".repeat(32) };
        },
        recoveryChallenge: () => ({
          nonce: "5a".repeat(32),
          node: "cp-0",
          diskUuid: "12345678-1234-1234-1234-123456789abc",
        }),
      },
      logger,
      metrics: new MetricsRegistry(),
      status: () => ({ phase: "waiting" }),
    },
    listener,
  );
  return { a, logger };
}

const post = (a: ReturnType<typeof app>["a"], path: string, b = body) =>
  a.request(`http://x${path}`, { method: "POST", body: b });

describe("bootstrapper app", () => {
  test("each listener serves only its own routes", async () => {
    expect((await post(app("init").a, "/v1/init")).status).toBe(200);
    expect((await post(app("status").a, "/v1/init")).status).toBe(404);
    expect((await post(app("recovery").a, "/v1/init")).status).toBe(404);
    expect((await app("init").a.request("http://x/v1/status")).status).toBe(404);
    expect((await app("status").a.request("http://x/v1/status")).status).toBe(200);
  });

  test.each([
    {
      name: "wrong init secret",
      err: new InitSecretError("INIT_SECRET_INVALID", "x"),
      status: 401,
      code: "INIT_SECRET_INVALID",
    },
    {
      name: "lock taken",
      err: new BootstrapperError("NODE_ALREADY_ACTIVATED", "x"),
      status: 409,
      code: "NODE_ALREADY_ACTIVATED",
    },
    {
      name: "unpinned component",
      err: new ComponentError("COMPONENT_HASH_MISSING", "x"),
      status: 400,
      code: "COMPONENT_HASH_MISSING",
    },
    {
      name: "failure after the lock",
      err: new BootstrapperError("INIT_FAILED", "x"),
      status: 500,
      code: "INIT_FAILED",
    },
    {
      name: "bad master secret",
      err: new KeysError("INVALID_SECRET", "Cannot use master key", { actual: "0 bytes" }),
      status: 400,
      code: "INVALID_REQUEST",
    },
    {
      name: "anything else",
      err: new Error(`boom at /var/secret with ${SECRET}`),
      status: 500,
      code: "INTERNAL",
    },
  ])("$name → $status $code, fixed message, no secret anywhere", async ({ err, status, code }) => {
    const { a, logger } = app("init", err);
    const res = await post(a, "/v1/init");
    expect(res.status).toBe(status);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code } });
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain("/var/secret");
    if (code === "INIT_SECRET_INVALID")
      expect(Object.keys(JSON.parse(text).error).sort()).toEqual(["code", "message"]);
    expect(JSON.stringify(logger.lines)).not.toContain(toBase64(new TextEncoder().encode(SECRET)));
  });

  test("a malformed body is refused without echoing it", async () => {
    const { a, logger } = app("init");
    const res = await post(a, "/v1/init", JSON.stringify({ initSecret: SECRET, masterSecret: SECRET }));
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).not.toContain(SECRET);
    expect(JSON.stringify(logger.lines)).not.toContain(SECRET);
  });

  test("recovery with the wrong master secret is a 403", async () => {
    const res = await post(
      app("recovery", new BootstrapperError("MASTER_SECRET_WRONG", "x")).a,
      "/v1/recover",
      JSON.stringify({
        masterSecret: { key: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(32)) },
      }),
    );
    expect(res.status).toBe(403);
  });

  test("the recovery listener hands out approval nonces; only it does", async () => {
    const res = await post(app("recovery").a, "/v1/recover/challenge", "{}");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ nonce: "5a".repeat(32), node: "cp-0" });
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await post(app("init").a, "/v1/recover/challenge", "{}")).status).toBe(404);
  });

  test.each([
    {
      name: "recovery without the owners' approval → 403 OWNER_APPROVAL_REQUIRED",
      err: new BootstrapperError("OWNER_APPROVAL_REQUIRED", "x"),
      code: "OWNER_APPROVAL_REQUIRED",
      reason: undefined,
    },
    {
      name: "an approval that does not verify → 403 OWNER_APPROVAL_INVALID naming the owner code",
      err: new BootstrapperError("OWNER_APPROVAL_INVALID", "x", {
        cause: new ChangeRejectedError("RECOVERY_NONCE_INVALID", `nonce ${SECRET}`),
      }),
      code: "OWNER_APPROVAL_INVALID",
      reason: "(RECOVERY_NONCE_INVALID)",
    },
  ])("$name", async ({ err, code, reason }) => {
    const res = await post(
      app("recovery", err).a,
      "/v1/recover",
      JSON.stringify({
        masterSecret: { key: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(32)) },
        ownerApproval: { entries: [{}] },
      }),
    );
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(JSON.parse(text).error.code).toBe(code);
    if (reason) expect(JSON.parse(text).error.message).toEndWith(reason);
    expect(text).not.toContain(SECRET);
  });
});

describe("recovery listener bounds", () => {
  const recoverBody = JSON.stringify({
    masterSecret: { key: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(32)) },
  });

  /** A recovery app whose node.recover waits for `release()`; `entered` counts calls that reached it. */
  function held(limits?: { maxConcurrent?: number; bodyTimeoutMs?: number }) {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered = 0;
    const metrics = new MetricsRegistry();
    const a = createApp(
      {
        node: {
          init: async () => {
            throw new Error("unused");
          },
          recover: async () => {
            entered++;
            await gate;
            return { clusterId: "00".repeat(32) };
          },
          recoveryChallenge: () => ({ nonce: "5a".repeat(32), node: "cp-0", diskUuid: "x" }),
        },
        logger: createMemoryLogger(),
        metrics,
        status: () => ({ phase: "rejoining" }),
        ...(limits ? { recoveryLimits: limits } : {}),
      },
      "recovery",
    );
    return { a, release: () => release(), entered: () => entered, metrics };
  }

  const request = (b: BodyInit = recoverBody) =>
    new Request("http://x/v1/recover", { method: "POST", body: b, duplex: "half" } as RequestInit);

  test("at most 2 at once: the next is 503 BUSY with Retry-After before its body is read; freed slots serve again", async () => {
    expect(MAX_CONCURRENT_RECOVERIES).toBe(2);
    const h = held();
    const first = [h.a.request(request()), h.a.request(request())];
    for (let i = 0; i < 200 && h.entered() < 2; i++) await Bun.sleep(5);
    expect(h.entered()).toBe(2);
    const big = request("x".repeat(1024 * 1024));
    const busy = await h.a.request(big);
    expect(busy.status).toBe(503);
    expect(busy.headers.get("retry-after")).toBe(String(RECOVERY_RETRY_AFTER_SECONDS));
    expect((await busy.json()).error.code).toBe("BUSY");
    expect(big.bodyUsed).toBe(false);
    expect(h.metrics.render()).toContain('result="BUSY"');
    h.release();
    for (const r of await Promise.all(first)) expect(r.status).toBe(200);
    expect((await h.a.request(request())).status).toBe(200);
  });

  test("a body that stalls is cut at its deadline (408 BODY_TIMEOUT) and frees its slot", async () => {
    const h = held({ maxConcurrent: 1, bodyTimeoutMs: 100 });
    h.release();
    const stalled = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"masterSecret":'));
      },
    });
    const res = await h.a.request(request(stalled));
    expect(res.status).toBe(408);
    expect((await res.json()).error.code).toBe("BODY_TIMEOUT");
    expect((await h.a.request(request())).status).toBe(200);
  });

  test("a failing recovery frees its slot too", async () => {
    const a = createApp(
      {
        node: {
          init: async () => ({ clusterId: "", kubeconfig: "", kubernetes: { performed: false } }),
          recover: async () => {
            throw new BootstrapperError("MASTER_SECRET_WRONG", "x");
          },
          recoveryChallenge: () => ({ nonce: "5a".repeat(32), node: "cp-0", diskUuid: "x" }),
        },
        logger: createMemoryLogger(),
        metrics: new MetricsRegistry(),
        status: () => ({ phase: "rejoining" }),
        recoveryLimits: { maxConcurrent: 1 },
      },
      "recovery",
    );
    for (let i = 0; i < 3; i++) expect((await a.request(request())).status).toBe(403);
  });
});
