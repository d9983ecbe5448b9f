import { describe, expect, test } from "bun:test";
import { VERIFY_USER_DATA } from "@asterism/api";
import { fromBase64, toBase64, toBase64Url } from "@asterism/bytes";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { createSoftwareAttester } from "@asterism/testing";
import { createApp, MAX_CONCURRENT_ISSUES } from "./app.ts";

const attester = await createSoftwareAttester();
const nonce = crypto.getRandomValues(new Uint8Array(32));

function app(opts: { failing?: boolean; ready?: boolean } = {}) {
  const logger = createMemoryLogger();
  const a = createApp({
    issuer: opts.failing
      ? {
          variant: "qemu-vtpm",
          issue: async () => {
            throw new Error("TPM at /secret/path exploded");
          },
        }
      : attester.issuer,
    logger,
    metrics: new MetricsRegistry(),
    ready: () => opts.ready ?? true,
  });
  return { a, logger };
}

async function bodyOf(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe("verification-service app", () => {
  test.each([
    {
      name: "GET / with base64url nonce (Constellation)",
      req: () => new Request(`http://x/?nonce=${toBase64Url(nonce)}`),
    },
    {
      name: "padded base64url, any path",
      req: () => new Request(`http://x/anything?nonce=${toBase64Url(nonce)}=`),
    },
    {
      name: "POST /v1/attest JSON API",
      req: () =>
        new Request("http://x/v1/attest", {
          method: "POST",
          body: JSON.stringify({ nonce: toBase64(nonce) }),
        }),
    },
  ])("$name → a document bound to the nonce and userData SHA-256('VerifyService')", async ({ req }) => {
    const res = await app().a.request(req());
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: string };
    const claims = await attester.validator().validate(fromBase64(data), nonce);
    expect(claims.userData).toEqual(VERIFY_USER_DATA);
  });

  test.each([
    { name: "no nonce", url: "http://x/", code: "NONCE_MISSING" },
    {
      name: "two nonces",
      url: `http://x/?nonce=${toBase64Url(nonce)}&nonce=${toBase64Url(nonce)}`,
      code: "NONCE_MISSING",
    },
    { name: "empty nonce", url: "http://x/?nonce=", code: "NONCE_INVALID" },
    { name: "oversized nonce", url: `http://x/?nonce=${"A".repeat(5000)}`, code: "NONCE_INVALID" },
    { name: "short nonce", url: `http://x/?nonce=${toBase64Url(new Uint8Array(16))}`, code: "NONCE_INVALID" },
    { name: "not base64", url: "http://x/?nonce=%21%21", code: "NONCE_INVALID" },
  ])("400 for $name", async ({ url, code }) => {
    const res = await app().a.request(url);
    expect(res.status).toBe(400);
    expect(((await bodyOf(res))["error"] as { code: string }).code).toBe(code);
  });

  test.each([
    { name: "not JSON", body: "{", code: "INVALID_REQUEST" },
    { name: "wrong shape", body: '{"nonce": 1}', code: "INVALID_REQUEST" },
    { name: "oversized", body: JSON.stringify({ nonce: "A".repeat(2000) }), code: "NONCE_INVALID" },
    { name: "empty nonce", body: '{"nonce": ""}', code: "NONCE_INVALID" },
  ])("POST 400 for $name", async ({ body, code }) => {
    const res = await app().a.request("http://x/v1/attest", { method: "POST", body });
    expect(res.status).toBe(400);
    expect(((await bodyOf(res))["error"] as { code: string }).code).toBe(code);
  });

  test("an issuer failure is a 500 with a fixed message (no path, no detail)", async () => {
    const { a, logger } = app({ failing: true });
    const res = await a.request(`http://x/?nonce=${toBase64Url(nonce)}`);
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain("ATTESTATION_FAILED");
    expect(text).not.toContain("/secret/path");
    expect(JSON.stringify(logger.lines)).toContain("verify.issue_failed");
  });

  test("more than MAX_CONCURRENT_ISSUES requests in flight: the excess gets 503 BUSY", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const a = createApp({
      issuer: {
        variant: "qemu-vtpm",
        issue: async (u, n) => {
          await gate;
          return attester.issuer.issue(u, n);
        },
      },
      logger: createMemoryLogger(),
      metrics: new MetricsRegistry(),
      ready: () => true,
    });
    const url = `http://x/?nonce=${toBase64Url(nonce)}`;
    const pending = Array.from({ length: MAX_CONCURRENT_ISSUES }, () => a.request(url));
    const extra = await a.request(url);
    expect(extra.status).toBe(503);
    release();
    expect((await Promise.all(pending)).every((r) => r.status === 200)).toBe(true);
  });

  test("health, readiness, metrics", async () => {
    expect((await app().a.request("http://x/healthz")).status).toBe(200);
    expect((await app({ ready: false }).a.request("http://x/readyz")).status).toBe(503);
    const { a } = app();
    await a.request(`http://x/?nonce=${toBase64Url(nonce)}`);
    const m = await (await a.request("http://x/metrics")).text();
    expect(m).toContain('asterism_verify_requests_total{result="ok"} 1');
  });
});
