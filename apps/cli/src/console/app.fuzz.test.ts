/**
 * Hostile bodies against every state-changing console endpoint (signed in, so the checks behind the
 * session run): the answer is always a coded 4xx, never a 500, and nothing is stored.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSqliteState } from "@asterism/state";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { createConsoleApp } from "./app.ts";
import { stateSource } from "./source.ts";

const HOST = "localhost:4555";
const dir = mkdtempSync(join(tmpdir(), "asterism-console-fuzz-"));
const state = openSqliteState(join(dir, "s.db"));
afterAll(() => {
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

const source = stateSource(state);
const app = createConsoleApp({
  source,
  mode: "enroll",
  hosts: [HOST],
  now: () => new Date(),
  random: (n) => new Uint8Array(randomBytes(n)),
  launchToken: "fuzz",
  enroll: {
    clusterId: "1f".repeat(32),
    threshold: 1,
    rp: { id: "localhost", origins: ["http://localhost"] },
  },
});

const post = (path: string, body: string, cookie: string) =>
  app.request(path, {
    method: "POST",
    headers: { host: HOST, origin: `http://${HOST}`, "content-type": "application/json", cookie },
    body,
  });

const assertionLike = fc.record({
  id: fc.string(),
  rawId: fc.string(),
  type: fc.constantFrom("public-key", "x"),
  response: fc.record({
    authenticatorData: fc.base64String(),
    clientDataJSON: fc.oneof(
      fc.base64String(),
      fc.constant(Buffer.from('{"type":"webauthn.get"}').toString("base64url")),
    ),
    signature: fc.base64String(),
  }),
});

describe("console endpoints under hostile input", () => {
  test("coded 4xx only; nothing stored", async () => {
    const launch = await app.request("/launch/fuzz", { headers: { host: HOST } });
    const cookie = (launch.headers.get("set-cookie") ?? "").split(";")[0] as string;
    const paths = [
      "/api/login",
      "/api/enroll/options",
      "/api/enroll/register",
      "/api/enroll/proof",
      `/api/changes/${"ab".repeat(32)}/options`,
      `/api/changes/${"ab".repeat(32)}/approve`,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.oneof(
          fc.json(),
          fc.string(),
          assertionLike.map((a) => JSON.stringify({ assertion: a })),
          fc
            .record({ name: fc.string(), label: fc.string(), response: assertionLike })
            .map((x) => JSON.stringify(x)),
        ),
        async (path, body) => {
          const res = await post(path, body, cookie);
          if (res.status === 200) {
            // Only asking for registration options can succeed with a plausible name.
            expect(path).toBe("/api/enroll/options");
            return;
          }
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          const j = (await res.json()) as { code?: unknown };
          expect(typeof j.code).toBe("string");
        },
      ),
      { numRuns: fuzzRuns() },
    );
    expect(await source.store.readEntries()).toHaveLength(0);
    expect((await source.store.listPending()).pending).toHaveLength(0);
  });
});
