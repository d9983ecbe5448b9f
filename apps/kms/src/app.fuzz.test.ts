/**
 * Random request bodies against the JSON API (authenticated as the JoinService): the answer is either a
 * 200 for a well-formed request or a 4xx with a typed error body — never a 5xx, never a hang.
 */
import { describe, expect, test } from "bun:test";
import { ClusterKeys } from "@asterism/keys";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { createClusterKeySource } from "./key-source.ts";
import { JOIN, testApp, verified } from "./test-helpers.ts";

const KNOWN_CODES = new Set([
  "INVALID_JSON",
  "INVALID_REQUEST",
  "UNSUPPORTED_MEDIA_TYPE",
  "BODY_TOO_LARGE",
  "INVALID_KEY_ID",
  "INVALID_LENGTH",
  "UNKNOWN_KEY_VERSION",
  "FORBIDDEN",
  "NOT_FOUND",
]);

const keys = createClusterKeySource(
  await ClusterKeys.create(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)),
);
const { app } = testApp(keys);

const idArb = fc.oneof(
  fc.uuid().map((u) => u.toLowerCase()),
  fc.uuid(),
  fc.string({ maxLength: 80 }),
  fc.constantFrom("", "measurementSecret", "ca_emergency_ssh", "../x", "a".repeat(129)),
);
const lengthArb = fc.oneof(
  fc.integer({ min: -10, max: 5000 }),
  fc.double(),
  fc.constantFrom(0, 1, 4096, 4097, Number.MAX_SAFE_INTEGER),
);
const bodyArb = fc.oneof(
  fc
    .record(
      { id: idArb, length: lengthArb, version: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.string()) },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("latin1")),
  fc.string({ minLength: 4000, maxLength: 6000 }),
);
const typeArb = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "");

async function check(res: Response): Promise<void> {
  if (res.status === 200) return;
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as { domain?: unknown; code?: unknown };
  expect(typeof body.domain).toBe("string");
  expect(KNOWN_CODES.has(String(body.code))).toBe(true);
}

describe("KMS API fuzz", () => {
  test("POST /v1/data-keys with random bodies", async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb, typeArb, async (body, type) => {
        const headers: Record<string, string> = type === "" ? {} : { "content-type": type };
        await check(await app.request("/v1/data-keys", { method: "POST", headers, body }, verified(JOIN)));
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("GET /v1/data-keys/:id with random ids and query strings", async () => {
    await fc.assert(
      fc.asyncProperty(
        idArb,
        fc.string({ maxLength: 12 }),
        fc.string({ maxLength: 4 }),
        async (id, length, version) => {
          const q = new URLSearchParams({ length, ...(version === "" ? {} : { version }) });
          await check(await app.request(`/v1/data-keys/${encodeURIComponent(id)}?${q}`, {}, verified(JOIN)));
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
