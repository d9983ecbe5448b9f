/**
 * The real binary entry point over real mutual TLS on 127.0.0.1: unauthorized callers refused, keys
 * released to the JoinService, user-managed mode against a SoftHSM2 token, restart (after SIGKILL) with
 * nothing lost, and KEK rotation through the `rotate-kek` command (only with the owners' approval).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBase64 } from "@asterism/bytes";
import {
  type ClusterCa,
  createClusterCa,
  createMtlsFetch,
  issueServiceCertificate,
  type ServiceCredentials,
} from "@asterism/mtls";
import { openSqliteState } from "@asterism/state";
import { createSoftHsmToken, createTestOwners, type SoftHsmToken } from "@asterism/testing";

const MAIN = join(import.meta.dir, "main.ts");
const NOW = new Date();
const UUID = "12345678-1234-1234-1234-123456789abc";
const V8_DISK_KEY = "5496ddb2cd95248d97b2cb9de365810fa6bfa269cb4302eb386ecfff349871a5";

let dir: string;
let ca: ClusterCa;
let token: SoftHsmToken;
const creds: Record<string, ServiceCredentials> = {};
const running = new Set<Bun.Subprocess>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "asterism-kms-main-"));
  ca = await createClusterCa({ now: NOW });
  const other = await createClusterCa({ now: NOW });
  const server = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    now: NOW,
    ipAddresses: ["127.0.0.1"],
  });
  creds["join"] = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now: NOW });
  creds["boot"] = await issueServiceCertificate(ca, { service: "bootstrapper", usage: "client", now: NOW });
  creds["nodeAgent"] = await issueServiceCertificate(ca, {
    service: "node-agent",
    usage: "client",
    now: NOW,
  });
  creds["foreign"] = await issueServiceCertificate(other, {
    service: "join-service",
    usage: "client",
    now: NOW,
  });
  creds["expired"] = await issueServiceCertificate(ca, {
    service: "join-service",
    usage: "client",
    now: NOW,
    window: {
      notBefore: new Date(NOW.getTime() - 3 * 86_400_000),
      notAfter: new Date(NOW.getTime() - 86_400_000),
    },
  });
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  writeFileSync(join(dir, "kms.pem"), server.certPem);
  writeFileSync(join(dir, "kms.key"), server.keyPem, { mode: 0o600 });
  const b64 = (start: number) => toBase64(Uint8Array.from({ length: 32 }, (_, i) => start + i));
  writeFileSync(join(dir, "master.json"), JSON.stringify({ key: b64(0), salt: b64(0x20) }), { mode: 0o600 });
  token = createSoftHsmToken("kms-main-test", "97531", "86420");
  writeFileSync(join(dir, "pin"), `${token.pin}\n`, { mode: 0o600 });
});

afterAll(() => {
  for (const p of running) p.kill("SIGKILL");
  token?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const baseEnv = () => ({
  PATH: process.env["PATH"] ?? "/usr/bin:/bin",
  HOME: process.env["HOME"] ?? "/tmp",
  KMS_PORT: "0",
  KMS_TLS_CERT_FILE: join(dir, "kms.pem"),
  KMS_TLS_KEY_FILE: join(dir, "kms.key"),
  KMS_CA_CERT_FILE: join(dir, "ca.pem"),
});
const clusterEnv = () => ({
  ...baseEnv(),
  KMS_MODE: "cluster",
  KMS_MASTER_SECRET_FILE: join(dir, "master.json"),
});
/** User mode; wrapped keys in the embedded cluster state (SQLite) unless `storeDir` is given. */
const userEnv = (storeDir?: string) => ({
  ...baseEnv(),
  ...token.env,
  KMS_MODE: "user",
  KMS_PKCS11_LIBRARY: token.libraryPath,
  KMS_PKCS11_TOKEN: token.label,
  KMS_PKCS11_PIN_FILE: join(dir, "pin"),
  ...(storeDir === undefined ? { KMS_STATE_DB: join(dir, "state.db") } : { KMS_STORE_DIR: storeDir }),
  KMS_CREATE_KEK: "true",
});

interface Kms {
  url: string;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  logs: Record<string, unknown>[];
}

/** Run `kms rotate-kek` in user mode with extra settings; its JSON log lines are parsed. */
function rotateKek(extra: Record<string, string>) {
  const p = Bun.spawnSync(["bun", MAIN, "rotate-kek"], {
    env: { ...userEnv(), ...extra },
    stdout: "pipe",
    stderr: "pipe",
  });
  const logs = p.stderr
    .toString()
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { exitCode: p.exitCode, logs };
}

/** Owners enrolled in the KMS's state file (SQLite in WAL mode: this connection and the KMS share it). */
async function createOwners(db: string) {
  const state = openSqliteState(db);
  const owners = await createTestOwners(state);
  return {
    anchor: owners.anchor,
    approveRotation: () => owners.approve("kms-key-rotation", { key: "kek", reason: "test rotation" }),
    close: () => state.close(),
  };
}

/** Start main.ts and wait (bounded) for its "kms.listening" log line. */
async function start(env: Record<string, string>): Promise<Kms> {
  const proc = Bun.spawn(["bun", MAIN], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  running.add(proc);
  const logs: Record<string, unknown>[] = [];
  const reader = proc.stderr.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let port: number | undefined;
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += decoder.decode(value);
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const l of lines) {
        const rec = JSON.parse(l) as Record<string, unknown>;
        logs.push(rec);
        if (rec["msg"] === "kms.listening") port = rec["port"] as number;
      }
    }
  })();
  const deadline = Date.now() + 10_000;
  while (port === undefined && Date.now() < deadline && proc.exitCode === null) await Bun.sleep(20);
  if (port === undefined) throw new Error(`kms did not start: ${JSON.stringify(logs)}`);
  void pump;
  return { url: `https://127.0.0.1:${port}`, proc, logs };
}

async function stop(kms: Kms, signal: "SIGKILL" | "SIGTERM" = "SIGTERM") {
  kms.proc.kill(signal);
  await kms.proc.exited;
  running.delete(kms.proc);
}

const as = (who?: string) =>
  createMtlsFetch({
    caCertPem: ca.certPem,
    serverIdentity: "asterism://kms",
    ...(who === undefined ? {} : { certPem: creds[who]!.certPem, keyPem: creds[who]!.keyPem }),
  });
const getKey = (kms: Kms, who: string | undefined, id: string, length = 32) =>
  as(who)(`${kms.url}/v1/data-keys/${id}?length=${length}`);
const createKey = (kms: Kms, who: string, id: string, length = 32) =>
  as(who)(`${kms.url}/v1/data-keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, length }),
  });

describe("cluster-managed KMS over real mTLS", () => {
  let kms: Kms;
  beforeAll(async () => {
    kms = await start(clusterEnv());
  });
  afterAll(async () => {
    await stop(kms);
  });

  test.each([
    { name: "no client certificate", who: undefined, status: 401, code: "UNAUTHENTICATED" },
    { name: "certificate from another CA", who: "foreign", status: 401, code: "UNAUTHENTICATED" },
    { name: "expired certificate", who: "expired", status: 401, code: "UNAUTHENTICATED" },
    { name: "valid certificate, other identity", who: "nodeAgent", status: 403, code: "FORBIDDEN" },
  ])("$name → $status, no detail", async ({ who, status, code }) => {
    const res = await getKey(kms, who, UUID);
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ domain: "kms", code });
  });

  test("JoinService and bootstrapper get Constellation's key (V8); the release is logged without the key", async () => {
    for (const who of ["join", "boot"]) {
      const res = await getKey(kms, who, UUID);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { key: string };
      expect(Buffer.from(body.key, "base64").toString("hex")).toBe(V8_DISK_KEY);
    }
    await Bun.sleep(50);
    const releases = kms.logs.filter((l) => l["msg"] === "kms.key_released");
    expect(releases.map((r) => r["caller"])).toEqual(["asterism://join-service", "asterism://bootstrapper"]);
    expect(typeof releases[0]!["time"]).toBe("string");
    const allLogs = JSON.stringify(kms.logs);
    expect(allLogs).not.toContain(V8_DISK_KEY);
    expect(allLogs).not.toContain(Buffer.from(V8_DISK_KEY, "hex").toString("base64"));
  });

  test("oversized body → 413 and the service keeps answering", async () => {
    const res = await as("join")(`${kms.url}/v1/data-keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: UUID, length: 32, pad: "x".repeat(100_000) }),
    });
    expect(res.status).toBe(413);
    expect((await getKey(kms, "join", UUID)).status).toBe(200);
    expect((await as()(`${kms.url}/healthz`)).status).toBe(200);
  });
});

describe("user-managed KMS (SoftHSM2 KEK, keys in the embedded cluster state) — restart and rotation", () => {
  const ids = Array.from({ length: 6 }, (_, i) => `0000000${i}-aaaa-4bbb-8ccc-dddddddddddd`);

  test("keys survive SIGKILL + restart and a KEK rotation, unchanged", async () => {
    let kms = await start(userEnv());
    expect(kms.logs.some((l) => l["msg"] === "kms.kek_created")).toBe(true);
    const made = new Map<string, string>();
    for (const id of ids) {
      const res = await createKey(kms, id.startsWith("00000000") ? "boot" : "join", id, 48);
      expect(res.status).toBe(200);
      made.set(id, ((await res.json()) as { key: string }).key);
    }
    expect((await as()(`${kms.url}/readyz`)).status).toBe(200);
    await stop(kms, "SIGKILL");

    kms = await start(userEnv());
    for (const [id, key] of made) {
      const res = await getKey(kms, "join", id, 48);
      expect(((await res.json()) as { key: string }).key).toBe(key);
    }
    await stop(kms);

    // A rotation needs the owners' approval: refused without an anchor, and without an approval.
    expect(rotateKek({}).exitCode).toBe(2);
    const owners = await createOwners(join(dir, "state.db"));
    const refused = rotateKek({ KMS_OWNER_ANCHOR: owners.anchor });
    expect(refused.exitCode).toBe(1);
    expect(refused.logs.find((l) => l["msg"] === "kms.rotation_refused")).toMatchObject({
      code: "NOT_APPROVED",
    });

    const approvedIn = await owners.approveRotation();
    const rot = rotateKek({ KMS_OWNER_ANCHOR: owners.anchor });
    expect(rot.exitCode).toBe(0);
    const rotated = rot.logs.find((l) => l["msg"] === "kms.kek_rotated");
    expect(rotated).toMatchObject({ target: 2, total: 6, rotated: 6, unreadable: 0, approvedIn });
    // One approval, one rotation.
    const again = rotateKek({ KMS_OWNER_ANCHOR: owners.anchor });
    expect(again.exitCode).toBe(1);
    expect(again.logs.find((l) => l["msg"] === "kms.rotation_refused")).toMatchObject({
      code: "NOT_APPROVED",
    });

    kms = await start(userEnv());
    for (const [id, key] of made) {
      const res = await getKey(kms, "join", id, 48);
      expect(((await res.json()) as { key: string }).key).toBe(key);
    }
    expect((await getKey(kms, "join", "99999999-aaaa-4bbb-8ccc-dddddddddddd", 48)).status).toBe(404);
    await stop(kms);
  }, 30_000);
});

describe("user-managed KMS when the HSM goes away", () => {
  test("requests get 503 with a typed code, health stays up, readiness turns 503, process lives", async () => {
    const lost = createSoftHsmToken("kms-lost-test", "1111", "2222");
    try {
      writeFileSync(join(dir, "pin-lost"), lost.pin);
      const env = {
        ...userEnv(join(dir, "store-lost")),
        ...lost.env,
        KMS_PKCS11_TOKEN: lost.label,
        KMS_PKCS11_PIN_FILE: join(dir, "pin-lost"),
      };
      const kms = await start(env);
      const id = "feedface-0000-4000-8000-000000000000";
      expect((await createKey(kms, "join", id)).status).toBe(200);
      expect((await as()(`${kms.url}/readyz`)).status).toBe(200);
      rmSync(lost.tokenDir, { recursive: true, force: true });
      for (const res of [
        await createKey(kms, "join", "feedface-0000-4000-8000-000000000001"),
        await getKey(kms, "join", id),
      ]) {
        expect(res.status).toBe(503);
        expect(await res.json()).toMatchObject({ domain: "kek" });
      }
      expect((await as()(`${kms.url}/healthz`)).status).toBe(200);
      expect((await as()(`${kms.url}/readyz`)).status).toBe(503);
      expect(kms.proc.exitCode).toBeNull();
      await stop(kms);
    } finally {
      lost.cleanup();
    }
  });
});

describe("command line", () => {
  test.each([
    { args: ["--version"], code: 0, out: /^kms \S+\n$/ },
    { args: ["--help"], code: 0, out: /Usage: kms/ },
  ])("$args exits $code", ({ args, code, out }) => {
    const r = Bun.spawnSync(["bun", MAIN, ...args], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(code);
    expect(r.stdout.toString()).toMatch(out);
  });

  test.each([
    { name: "no configuration", env: (): Record<string, string> => ({}) },
    { name: "cluster mode without master secret", env: () => ({ KMS_MODE: "cluster" }) },
    {
      name: "user mode with two stores",
      env: () => ({ ...userEnv(join(dir, "x")), KMS_STATE_DB: join(dir, "y.db") }),
    },
    { name: "unknown argument", env: () => ({}), args: ["--frobnicate"] },
  ])("$name → exit 2", ({ env, args }) => {
    const r = Bun.spawnSync(["bun", MAIN, ...(args ?? [])], {
      env: { ...baseEnv(), ...env() },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode).toBe(2);
  });

  test("a corrupt master secret → exit 1 without echoing it", () => {
    writeFileSync(join(dir, "bad-master.json"), '{"key":"c2VjcmV0c2VjcmV0c2VjcmV0!!","salt":"x"}');
    const r = Bun.spawnSync(["bun", MAIN], {
      env: { ...clusterEnv(), KMS_MASTER_SECRET_FILE: join(dir, "bad-master.json") },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("INVALID_MASTER_SECRET");
    expect(r.stderr.toString()).not.toContain("c2VjcmV0");
  });
});
