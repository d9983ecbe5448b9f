/**
 * The bootstrapper's listeners under random requests: init and recovery bodies (which carry the init
 * secret and the master secret), random methods and paths, oversized and malformed input. Answers are
 * 200 (only for a well-formed request the node accepts) or a 4xx with a typed error body whose message is
 * fixed text — never a 5xx, never an echo of what was sent.
 */
import { describe, expect, test } from "bun:test";
import { ErrorBodySchema } from "@asterism/api";
import { toBase64 } from "@asterism/bytes";
import { InitSecretError } from "@asterism/kubeadm";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { fuzzRuns, fuzzTimeout } from "@asterism/testing";
import fc from "fast-check";
import * as v from "valibot";
import { createApp, type Listener } from "./app.ts";

const SECRET = "the-init-secret";
/** A node that accepts only the right init secret, as the real one does (after its bcrypt check). */
const node = {
  init: async (req: { initSecret: Uint8Array }) => {
    if (new TextDecoder().decode(req.initSecret) !== SECRET)
      throw new InitSecretError("INIT_SECRET_INVALID", "Init secret rejected");
    return { clusterId: "00".repeat(32), kubeconfig: "k", kubernetes: { performed: false } };
  },
  recover: async () => ({ clusterId: "00".repeat(32) }),
  recoveryChallenge: () => ({
    nonce: "00".repeat(32),
    node: "cp-0",
    diskUuid: "12345678-1234-1234-1234-123456789abc",
  }),
};
const apps = Object.fromEntries(
  (["init", "recovery", "status"] as Listener[]).map((l) => [
    l,
    createApp(
      {
        node: node as never,
        logger: createMemoryLogger(),
        metrics: new MetricsRegistry(),
        status: () => ({ phase: "waiting" }),
      },
      l,
    ),
  ]),
) as Record<Listener, ReturnType<typeof createApp>>;

async function check(res: Response, sent: string): Promise<string | undefined> {
  expect(res.status).toBeLessThan(500);
  if (res.status === 200) return undefined;
  expect(res.status).toBeGreaterThanOrEqual(400);
  const text = await res.text();
  const body = JSON.parse(text) as unknown;
  expect(v.is(ErrorBodySchema, body)).toBe(true);
  // Nothing of what was sent comes back (the body may hold secrets).
  if (sent.length >= 12) expect(text.includes(sent.slice(0, 12))).toBe(false);
  return (body as { error: { code: string } }).error.code;
}

const b64 = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map(toBase64);
const initBody = fc.record(
  {
    initSecret: fc.oneof(
      fc.constant(toBase64(new TextEncoder().encode(SECRET))),
      b64(16),
      fc.string({ maxLength: 40 }),
    ),
    masterSecret: fc.oneof(fc.record({ key: b64(32), salt: b64(32) }), fc.anything()),
    measurementSalt: fc.oneof(b64(32), b64(31), fc.anything()),
    kubernetesVersion: fc.oneof(fc.constant("v1.31.13"), fc.string({ maxLength: 20 })),
    kubernetesComponents: fc.oneof(fc.constant([]), fc.anything()),
    serviceCidr: fc.oneof(fc.constant("10.96.0.0/12"), fc.string({ maxLength: 20 })),
  },
  { requiredKeys: [] },
);

describe("bootstrapper HTTP fuzz", () => {
  test(
    "POST /v1/init and /v1/recover with random bodies: 200 only for the right secret, else typed 4xx",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(["init", "/v1/init"] as const, ["recovery", "/v1/recover"] as const),
          fc.oneof(
            initBody.map((b) => JSON.stringify(b)),
            fc
              .record({ masterSecret: fc.record({ key: b64(32), salt: b64(32) }) })
              .map((b) => JSON.stringify(b)),
            fc.json({ maxDepth: 3 }),
            fc.string({ maxLength: 300 }),
            fc.constant(`{"initSecret":"${"A".repeat(400_000)}"}`),
          ),
          async ([listener, path], body) => {
            await check(await apps[listener].request(`http://x${path}`, { method: "POST", body }), body);
          },
        ),
        { numRuns: fuzzRuns() },
      );
    },
    fuzzTimeout(30_000),
  );

  test("random methods and paths on every listener", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Listener>("init", "recovery", "status"),
        fc.constantFrom("GET", "PUT", "DELETE", "PATCH", "POST", "OPTIONS"),
        fc.oneof(
          fc.webPath(),
          fc.constantFrom(
            "/v1/init",
            "/v1/recover",
            "/v1/recover/challenge",
            "/v1/status",
            "/healthz",
            "/metrics",
          ),
        ),
        async (listener, method, path) => {
          const p = path.startsWith("/") ? path : `/${path}`;
          await check(await apps[listener].request(`http://x${p}`, { method }), "");
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
