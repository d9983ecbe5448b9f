/**
 * The console app without a browser: the local-server hardening (host, origin, content type, sessions,
 * one-time launch links, headers) and the ceremonies driven by a software authenticator, including a
 * second owner's enrollment approved by the first (M of N).
 */
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBase64Url } from "@asterism/bytes";
import { openSqliteState } from "@asterism/state";
import {
  createSoftwareAuthenticator,
  type SoftwareAuthenticator,
  type SoftwarePasskey,
} from "@asterism/testing";
import { type ConsoleDeps, type ConsoleEvent, createConsoleApp } from "./app.ts";
import { stateSource } from "./source.ts";

const HOST = "localhost:4123";
const ORIGIN = `http://${HOST}`;
const CLUSTER_ID = "7a".repeat(32);
const dir = mkdtempSync(join(tmpdir(), "asterism-console-app-"));
const states: { close(): void }[] = [];
afterAll(() => {
  for (const s of states) s.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
let source: ReturnType<typeof stateSource>;
let events: ConsoleEvent[];
let auth: SoftwareAuthenticator;

beforeEach(() => {
  const s = openSqliteState(join(dir, `s${n++}.db`));
  states.push(s);
  source = stateSource(s);
  events = [];
  auth = createSoftwareAuthenticator({ rpId: "localhost", origin: ORIGIN });
});

function app(mode: ConsoleDeps["mode"], launchToken?: string) {
  return createConsoleApp({
    source,
    mode,
    hosts: [HOST],
    now: () => new Date(),
    random: (k) => new Uint8Array(randomBytes(k)),
    ...(launchToken ? { launchToken } : {}),
    enroll: { clusterId: CLUSTER_ID, threshold: 2, rp: { id: "localhost", origins: ["http://localhost"] } },
    onEvent: (e) => events.push(e),
  });
}

type App = ReturnType<typeof app>;

async function call(
  a: App,
  method: string,
  path: string,
  opts: { body?: unknown; cookie?: string; headers?: Record<string, string> } = {},
) {
  const res = await a.request(path, {
    method,
    headers: {
      host: HOST,
      ...(method === "POST" ? { origin: ORIGIN, "content-type": "application/json" } : {}),
      ...(opts.cookie ? { cookie: opts.cookie } : {}),
      ...opts.headers,
    },
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // HTML
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** Open a session through the launch link; returns the cookie header. */
async function launch(a: App, token: string): Promise<string> {
  const r = await call(a, "GET", `/launch/${token}`);
  expect(r.status).toBe(303);
  const cookie = r.headers.get("set-cookie") ?? "";
  expect(cookie).toContain("HttpOnly");
  expect(cookie).toContain("SameSite=Strict");
  return cookie.split(";")[0] as string;
}

/** Register `count` passkeys for `name` and finish, proving possession: what the enroll page's script does. */
async function enroll(
  a: App,
  cookie: string,
  name: string,
  count = 1,
): Promise<{ passkey: SoftwarePasskey; passkeys: SoftwarePasskey[]; message: string }> {
  const passkeys: SoftwarePasskey[] = [];
  for (let i = 0; i < count; i++) {
    const opts = await call(a, "POST", "/api/enroll/options", { cookie, body: { name } });
    expect(opts.status).toBe(200);
    const { response, passkey } = auth.register(opts.json["options"] as { challenge: string });
    const reg = await call(a, "POST", "/api/enroll/register", {
      cookie,
      body: { name, label: `${name} key ${i}`, response },
    });
    expect(reg.status).toBe(200);
    passkeys.push(passkey);
  }
  const fin = await call(a, "POST", "/api/enroll/finish", { cookie });
  expect(fin.status).toBe(200);
  const proofs = fin.json["proofs"] as { challenge: string; allowCredentials: { id: string }[] }[];
  expect(proofs).toHaveLength(count);
  let message = "";
  for (const p of proofs) {
    const passkey = passkeys.find((k) => k.credentialId === p.allowCredentials[0]?.id) as SoftwarePasskey;
    const assertion = auth.assert(passkey, fromBase64Url(p.challenge));
    const proof = await call(a, "POST", "/api/enroll/proof", { cookie, body: { assertion } });
    expect(proof.status).toBe(200);
    message = String(proof.json["message"]);
  }
  return { passkey: passkeys[0] as SoftwarePasskey, passkeys, message };
}

describe("local-server hardening", () => {
  test("a foreign Host header (DNS rebinding) → 421", async () => {
    const r = await call(app("console"), "GET", "/login", { headers: { host: "attacker.example:4123" } });
    expect(r.status).toBe(421);
    expect(r.json["code"]).toBe("UNKNOWN_HOST");
  });
  test.each([
    ["no Origin", { origin: "" }, 403, "CROSS_ORIGIN"],
    ["another Origin", { origin: "http://evil.example" }, 403, "CROSS_ORIGIN"],
    ["a form post", { "content-type": "application/x-www-form-urlencoded" }, 415, "UNSUPPORTED_MEDIA_TYPE"],
  ])("POST with %s → %i", async (_n, headers, status, code) => {
    const r = await call(app("console"), "POST", "/api/login/options", { headers });
    expect(r.status).toBe(status);
    expect(r.json["code"]).toBe(code);
  });
  test("security headers on pages and on errors", async () => {
    for (const r of [
      await call(app("console"), "GET", "/login"),
      await call(app("console"), "POST", "/api/changes/00/approve"),
    ]) {
      expect(r.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(r.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("cache-control")).toBe("no-store");
    }
  });
  test("console pages need a passkey session; APIs answer 401 without one", async () => {
    const a = app("console");
    expect((await call(a, "GET", "/")).status).toBe(303);
    expect((await call(a, "POST", `/api/changes/${"0".repeat(64)}/approve`, { body: {} })).status).toBe(401);
  });
  test("launch links are one-time and exact", async () => {
    const a = app("enroll", "the-token");
    expect((await call(a, "GET", "/launch/the-tokem")).status).toBe(403);
    await launch(a, "the-token");
    const again = await call(a, "GET", "/launch/the-token");
    expect(again.status).toBe(403);
    expect(again.json["code"]).toBe("LAUNCH_LINK_USED");
  });
  test("the browser script is small", async () => {
    const r = await call(app("console"), "GET", "/app.js");
    expect(r.headers.get("content-type")).toContain("text/javascript");
    expect(r.text.length).toBeGreaterThan(500);
    expect(r.text.length).toBeLessThan(200 * 1024);
  });
});

describe("ceremonies with a software authenticator", () => {
  test("genesis, sign-in (a used challenge cannot sign in again), and a second owner approved by the first", async () => {
    // First owner: genesis.
    const e = app("enroll", "t1");
    const alice = await enroll(e, await launch(e, "t1"), "alice", 2);
    expect(alice.message).toContain("Genesis hash");
    expect(events.map((x) => x.kind)).toEqual(["committed"]);
    const anchor = (events[0] as { hash: string }).hash;

    // Sign in to the console with alice's passkey; the same assertion cannot sign in twice.
    const c = app("console");
    const backup = await call(c, "POST", "/api/login/options");
    const viaBackup = auth.assert(
      alice.passkeys[1]!,
      fromBase64Url((backup.json["options"] as { challenge: string }).challenge),
    );
    expect((await call(c, "POST", "/api/login", { body: { assertion: viaBackup } })).json["owner"]).toBe(
      "alice",
    );
    const opts = await call(c, "POST", "/api/login/options");
    const assertion = auth.assert(
      alice.passkey,
      fromBase64Url((opts.json["options"] as { challenge: string }).challenge),
    );
    const ok = await call(c, "POST", "/api/login", { body: { assertion } });
    expect(ok.status).toBe(200);
    expect(ok.json["owner"]).toBe("alice");
    const replay = await call(c, "POST", "/api/login", { body: { assertion } });
    expect(replay.status).toBe(403);
    expect(replay.json["code"]).toBe("CHALLENGE_MISMATCH");
    const session = (ok.headers.get("set-cookie") ?? "").split(";")[0] as string;
    expect((await call(c, "GET", "/", { cookie: session })).status).toBe(200);

    // Second owner: an owner change, pending until alice approves.
    const e2 = app("enroll", "t2");
    const bob = await enroll(e2, await launch(e2, "t2"), "bob");
    expect(bob.message).toContain("1 more current owner approval");
    const { pending } = await source.store.listPending();
    expect(pending).toHaveLength(1);
    const digest = pending[0]!.digest;
    const changes = await call(c, "GET", "/changes", { cookie: session });
    expect(changes.text).toContain("owner bob");
    expect(changes.text).toContain("widens trust");

    // A stranger's passkey is refused; alice's approval puts bob in force.
    const stranger = createSoftwareAuthenticator({ rpId: "localhost", origin: ORIGIN });
    const { passkey: mallory } = stranger.register({ challenge: "AAAA" });
    const bad = await call(c, "POST", `/api/changes/${digest}/approve`, {
      cookie: session,
      body: { assertion: stranger.assert(mallory, new Uint8Array(Buffer.from(digest, "hex"))) },
    });
    expect(bad.status).toBe(403);
    expect(bad.json["code"]).toBe("UNKNOWN_CREDENTIAL");
    const approveOpts = await call(c, "POST", `/api/changes/${digest}/options`, { cookie: session });
    const good = await call(c, "POST", `/api/changes/${digest}/approve`, {
      cookie: session,
      body: {
        assertion: auth.assert(
          alice.passkey,
          fromBase64Url((approveOpts.json["options"] as { challenge: string }).challenge),
        ),
      },
    });
    expect(good.status).toBe(200);
    expect(good.json["committed"]).toMatchObject({ sequence: 1 });

    const a = await source.approvals();
    expect(a.log?.state.owners.map((o) => o.name)).toEqual(["alice", "bob"]);
    expect(a.log?.state.threshold).toBe(1);
    expect(a.log?.state.genesisHash).toBe(anchor);

    // The log is public JSON that verifies.
    const exported = await call(c, "GET", "/api/audit-log");
    expect(exported.json["format"]).toBe("asterism.audit-log/v1");
    expect(exported.json["entries"]).toHaveLength(2);
  });
});
