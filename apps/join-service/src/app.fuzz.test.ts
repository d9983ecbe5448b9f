/**
 * The JoinService HTTP surface before the ticket logic: random methods, paths, bodies and content types
 * get a 4xx with a typed error body (400 for malformed requests, 403 IDENTITY_MISSING for well-formed ones
 * from a peer that did not attest, 404/405 for other routes) — never a 5xx. Requests from attested peers
 * with hostile bodies are fuzzed over real aTLS in tests/load/join-http.fuzz.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorBodySchema } from "@asterism/api";
import { toBase64 } from "@asterism/bytes";
import { type ClusterPki, generateClusterPki } from "@asterism/kubeadm";
import { createKubeletCsr } from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import { fuzzRuns, fuzzTimeout } from "@asterism/testing";
import fc from "fast-check";
import type { Hono } from "hono";
import * as v from "valibot";
import { createApp } from "./app.ts";
import { createDiskOwnership } from "./ownership.ts";
import { effectivePolicy } from "./policy.ts";
import { createStateTokenPublisher } from "./tokens.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-join-fuzz-"));
let state: ReturnType<typeof openSqliteState>;
let app: Hono;
let pki: ClusterPki;
let csr: Uint8Array;

beforeAll(async () => {
  state = openSqliteState(join(dir, "state.db"));
  pki = await generateClusterPki();
  csr = (await createKubeletCsr({ name: "worker-0", ips: ["127.0.0.1"] })).csr;
  const logger = createMemoryLogger();
  app = createApp({
    config: {
      require: () => ({
        ...effectivePolicy({ measurements: createMeasurements([]) }),
        measurementSalt: new Uint8Array(32),
        kubernetesVersion: "v1.31.13",
        components: [],
        validators: new Map(),
        revokedNodes: new Set<string>(),
      }),
    },
    pki: () => pki,
    keys: { measurementSecret: async () => new Uint8Array(32), diskKey: async () => new Uint8Array(32) },
    ownership: createDiskOwnership(state, () => new Date()),
    tokens: createStateTokenPublisher(state, () => new Date(), logger),
    apiServerEndpoint: "127.0.0.1:6443",
    logger,
    metrics: new MetricsRegistry(),
    ready: () => true,
  });
}, 20_000);

afterAll(() => {
  state?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function check(res: Response): Promise<string | undefined> {
  expect(res.status).toBeLessThan(500);
  if (res.status === 200) return undefined;
  expect(res.status).toBeGreaterThanOrEqual(400);
  const body = (await res.json()) as unknown;
  expect(v.is(ErrorBodySchema, body)).toBe(true);
  return (body as { error: { code: string } }).error.code;
}

const uuid = fc.oneof(
  fc.uuid(),
  fc.uuid().map((u) => u.toLowerCase()),
  fc.string({ maxLength: 40 }),
);
const b64 = fc.oneof(
  fc.constant("CSR"),
  fc.uint8Array({ maxLength: 300 }).map(toBase64),
  fc.string({ maxLength: 100 }),
);
const joinBody = fc.record(
  { diskUuid: uuid, csr: b64, controlPlane: fc.oneof(fc.boolean(), fc.anything()), extra: fc.anything() },
  { requiredKeys: [] },
);

describe("join-service HTTP fuzz (no attested peer)", () => {
  test(
    "POST /v1/join and /v1/rejoin with random bodies: 400 or 403 IDENTITY_MISSING, typed",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom("/v1/join", "/v1/rejoin"),
          fc.oneof(
            joinBody.map((b) => JSON.stringify(b.csr === "CSR" ? { ...b, csr: toBase64(csr) } : b)),
            fc.json({ maxDepth: 3 }),
            fc.string({ maxLength: 300 }),
            fc.constant(`{"csr":"${"A".repeat(300_000)}"}`),
          ),
          fc.constantFrom("application/json", "text/plain", ""),
          async (path, body, type) => {
            const headers: Record<string, string> = type === "" ? {} : { "content-type": type };
            const code = await check(await app.request(`http://x${path}`, { method: "POST", headers, body }));
            expect(["INVALID_REQUEST", "IDENTITY_MISSING"]).toContain(code as string);
          },
        ),
        { numRuns: fuzzRuns() },
      );
    },
    fuzzTimeout(30_000),
  );

  test("random methods and paths", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "POST", "OPTIONS"),
        fc.oneof(fc.webPath(), fc.constantFrom("/v1/join", "/v1/rejoin", "/healthz", "/readyz", "/metrics")),
        fc.string({ maxLength: 100 }),
        async (method, path, body) => {
          const p = path.startsWith("/") ? path : `/${path}`;
          await check(await app.request(`http://x${p}`, { method, ...(method === "GET" ? {} : { body }) }));
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
