/**
 * Anyone on the network may call the VerificationService: random methods, paths, query strings, bodies
 * and content types get a 200 with a document (only for exactly one valid 32-byte nonce) or a 4xx with a
 * typed error body — never a 5xx, never a hang.
 */
import { describe, expect, test } from "bun:test";
import { ErrorBodySchema } from "@asterism/api";
import { toBase64, toBase64Url } from "@asterism/bytes";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { createSoftwareAttester, fuzzRuns, fuzzTimeout } from "@asterism/testing";
import fc from "fast-check";
import * as v from "valibot";
import { createApp } from "./app.ts";

const attester = await createSoftwareAttester();
const app = createApp({
  issuer: attester.issuer,
  logger: createMemoryLogger(),
  metrics: new MetricsRegistry(),
  ready: () => true,
});

async function check(res: Response): Promise<number> {
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as unknown;
  if (res.status === 200) {
    expect(typeof (body as { data?: unknown }).data).toBe("string");
    return 200;
  }
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(v.is(ErrorBodySchema, body)).toBe(true);
  return res.status;
}

const nonce32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nonceText = fc.oneof(
  nonce32.map(toBase64Url),
  nonce32.map(toBase64),
  fc.uint8Array({ maxLength: 64 }).map(toBase64Url),
  fc.string({ maxLength: 200 }),
  fc.constantFrom("", "=", "%00", "a".repeat(5000)),
);

describe("verification-service HTTP fuzz", () => {
  test(
    "GET with random paths and nonce query strings",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.webPath(),
          fc.array(nonceText, { maxLength: 3 }),
          fc.webQueryParameters(),
          async (path, nonces, extra) => {
            const q = [...nonces.map((n) => `nonce=${encodeURIComponent(n)}`), extra].filter((s) => s !== "");
            const p = path.startsWith("/") ? path : `/${path}`;
            const status = await check(await app.request(`http://x${p}?${q.join("&")}`));
            if (status === 200) expect(nonces.length).toBe(1);
          },
        ),
        { numRuns: fuzzRuns() },
      );
    },
    fuzzTimeout(30_000),
  );

  test(
    "POST /v1/attest and /v1/attest/batch with random bodies and content types",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("/v1/attest", "/v1/attest/batch"),
          fc.oneof(
            nonceText.map((n) => JSON.stringify({ nonce: n })),
            fc.json({ maxDepth: 3 }),
            fc.string({ maxLength: 300 }),
            fc.constant(`{"nonce":"${"A".repeat(100_000)}"}`),
            fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")),
          ),
          fc.constantFrom("application/json", "text/plain", "", "application/x-www-form-urlencoded"),
          async (path, body, type) => {
            const headers: Record<string, string> = type === "" ? {} : { "content-type": type };
            await check(await app.request(`http://x${path}`, { method: "POST", headers, body }));
          },
        ),
        { numRuns: fuzzRuns() },
      );
    },
    fuzzTimeout(30_000),
  );

  test("other methods on every route", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("PUT", "DELETE", "PATCH", "POST", "OPTIONS"),
        fc.constantFrom(
          "/",
          "/healthz",
          "/readyz",
          "/metrics",
          "/v1/attest",
          "/v1/attest/batch",
          "/v1/join",
          "/x",
        ),
        fc.string({ maxLength: 100 }),
        async (method, path, body) => {
          await check(await app.request(`http://x${path}`, { method, body }));
        },
      ),
      { numRuns: fuzzRuns(100) },
    );
  });
});
