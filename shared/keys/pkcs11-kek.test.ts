/**
 * PKCS#11 KEKs against a real SoftHSM2 token created by the test, and KEK rotation interrupted by a real
 * SIGKILL of the rotating process. SoftHSM reads SOFTHSM2_CONF once per process, so this is the only
 * test file that loads the module in-process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromUtf8 } from "@asterism/bytes";
import { codeOf, createSoftHsmToken, type SoftHsmToken } from "@asterism/testing";
import {
  createFileKeyStore,
  createKekRing,
  type DataKeyStore,
  openPkcs11Keks,
  type Pkcs11KekProvider,
  rotateDataKeys,
  UserManagedKeys,
  unwrapDataKey,
  verifyDataKeys,
  wrapDataKey,
} from "./index.ts";

let token: SoftHsmToken;
let keks: Pkcs11KekProvider | undefined;
const dirs: string[] = [];
const children: Bun.Subprocess[] = [];

beforeAll(() => {
  token = createSoftHsmToken("asterism-kms-test", "2468", "1357");
  token.useInProcess();
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  keks?.close();
  token.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const open = (over: Partial<{ libraryPath: string; tokenLabel: string; pin: string }> = {}) =>
  openPkcs11Keks({ libraryPath: token.libraryPath, tokenLabel: token.label, pin: token.pin, ...over });

describe("opening the token", () => {
  // These run before any provider is logged in: PKCS#11 login state is per process, so a second login
  // while one is active would not check the PIN at all.
  test.each([
    {
      name: "library that does not exist",
      over: { libraryPath: "/nonexistent/libpkcs11.so" },
      wantCode: "HSM_UNAVAILABLE",
    },
    {
      name: "token label that does not exist",
      over: { tokenLabel: "no-such-token" },
      wantCode: "HSM_UNAVAILABLE",
    },
    { name: "wrong PIN", over: { pin: "0000" }, wantCode: "HSM_LOGIN_FAILED" },
  ])("$name → $wantCode", ({ over, wantCode }) => {
    expect(codeOf(() => open(over))).toBe(wantCode);
  });

  test("a token without KEKs → KEK_NOT_FOUND", () => {
    keks = open();
    expect(keks.versions()).toEqual([]);
    expect(codeOf(() => keks!.ring())).toBe("KEK_NOT_FOUND");
  });
});

describe("wrap and unwrap in the HSM", () => {
  test("create v1, wrap/unwrap keys of 1..4096 bytes", async () => {
    const kek = keks!.createVersion();
    expect(kek.version).toBe(1);
    for (const n of [1, 32, 33, 4096]) {
      const key = crypto.getRandomValues(new Uint8Array(n));
      const wrapped = await wrapDataKey(kek, "k", key);
      expect(await unwrapDataKey(keks!.ring().get(1)!, "k", n, wrapped)).toEqual(key);
    }
  });

  test("tampered blob → UNWRAP_FAILED; swapped id → BINDING_MISMATCH", async () => {
    const kek = keks!.ring().get(1)!;
    const wrapped = await wrapDataKey(kek, "k", new Uint8Array(32).fill(5));
    const bad = wrapped.slice();
    bad[9]! ^= 0x80;
    await expect(unwrapDataKey(kek, "k", 32, bad)).rejects.toMatchObject({ code: "UNWRAP_FAILED" });
    await expect(unwrapDataKey(kek, "j", 32, wrapped)).rejects.toMatchObject({ code: "BINDING_MISMATCH" });
  });

  test("the KEK object is sensitive and never extractable (checked with pkcs11-tool)", () => {
    const r = Bun.spawnSync(
      [
        "pkcs11-tool",
        "--module",
        token.libraryPath,
        "--token-label",
        token.label,
        "--login",
        "--pin",
        token.pin,
        "--list-objects",
        "--type",
        "secrkey",
      ],
      { env: { ...process.env, ...token.env }, stdout: "pipe", stderr: "pipe" },
    );
    const out = r.stdout.toString();
    expect(out).toContain("asterism-kek-v1");
    expect(out).toMatch(/Access:\s+.*sensitive.*never extractable/);
    expect(out).toMatch(/Usage:\s+wrap, unwrap/);
  });
});

const ids = Array.from(
  { length: 24 },
  (_, i) => `a${String(i).padStart(3, "0")}0000-0000-4000-8000-000000000000`,
);

async function seedStore(): Promise<{ dir: string; store: DataKeyStore; before: Map<string, Uint8Array> }> {
  const dir = mkdtempSync(join(tmpdir(), "asterism-rotate-"));
  dirs.push(dir);
  const store = createFileKeyStore(dir);
  const ring = createKekRing([keks!.ring().get(1)!]);
  const umk = new UserManagedKeys({ store, ring: () => ring });
  const before = new Map<string, Uint8Array>();
  for (const id of ids) before.set(id, (await umk.getOrCreate(id, 32)).key);
  return { dir, store, before };
}

async function runChildUntil(dir: string, extraEnv: Record<string, string>, killAfterLines: number) {
  const child = Bun.spawn(["bun", join(import.meta.dir, "testdata", "rotate-child.ts")], {
    env: {
      ...process.env,
      ...token.env,
      STORE_DIR: dir,
      P11_LIB: token.libraryPath,
      P11_TOKEN: token.label,
      P11_PIN: token.pin,
      ...extraEnv,
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  children.push(child);
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of child.stdout) {
    buf += decoder.decode(chunk);
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    lines.push(...parts);
    if (lines.length >= killAfterLines) break;
  }
  child.kill("SIGKILL");
  const code = await child.exited;
  return { lines, signal: child.signalCode, code };
}

async function expectAllKeysIntact(store: DataKeyStore, before: Map<string, Uint8Array>, versions: number[]) {
  const ring = createKekRing(versions.map((v) => keks!.ring().get(v)!));
  expect(await verifyDataKeys(store, ring)).toEqual({ checked: before.size, failures: [] });
  const umk = new UserManagedKeys({ store, ring: () => ring });
  for (const [id, key] of before) expect(await umk.get(id, 32)).toEqual(key);
}

describe("rotation killed with SIGKILL, then resumed", () => {
  test("killed right after a key's new wrap was added (between the two writes)", async () => {
    const { dir, store, before } = await seedStore();
    if (keks!.versions().length === 1) keks!.createVersion();
    // Step 19 is the "added" step of the 10th key (steps alternate added/switched).
    const { lines, signal } = await runChildUntil(dir, { PAUSE_AFTER: "19" }, 19);
    expect(signal).toBe("SIGKILL");
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ step: 19, phase: "added" });
    expect(lines.some((l) => l.includes('"done"'))).toBe(false);

    const records = await Promise.all(
      ids.map(async (id) => JSON.parse(fromUtf8((await store.get(id))!.value))),
    );
    expect(records.filter((r) => r.active === 2)).toHaveLength(9);
    const half = records.filter((r) => Object.keys(r.wraps).length === 2);
    expect(half).toHaveLength(1);
    expect(half[0].active).toBe(1);
    await expectAllKeysIntact(store, before, [1, 2]);

    const sum = await rotateDataKeys({ store, ring: keks!.ring() });
    expect(sum).toEqual({ total: 24, rotated: 15, alreadyCurrent: 9 });
    await expectAllKeysIntact(store, before, [2]);
  });

  test("killed at an arbitrary moment while running flat out", async () => {
    const { dir, store, before } = await seedStore();
    const { signal } = await runChildUntil(dir, { STEP_DELAY_MS: "2" }, 13);
    expect(signal).toBe("SIGKILL");
    await expectAllKeysIntact(store, before, [1, 2]);
    await rotateDataKeys({ store, ring: keks!.ring() });
    await expectAllKeysIntact(store, before, [2]);
  });

  test("after close the HSM is unavailable (typed error, no crash)", async () => {
    const kek = keks!.ring().get(2)!;
    keks!.close();
    await expect(kek.wrap(new Uint8Array(16))).rejects.toMatchObject({ code: "HSM_UNAVAILABLE" });
    expect(codeOf(() => keks!.versions())).toBe("HSM_UNAVAILABLE");
    keks = undefined;
  });
});

describe("token changes made by other processes", () => {
  test("a KEK version created by another tool (pkcs11-tool) shows up in ring() after refresh", () => {
    keks = open(); // the previous provider was closed above
    const r = Bun.spawnSync(
      [
        "pkcs11-tool",
        "--module",
        token.libraryPath,
        "--token-label",
        token.label,
        "--login",
        "--pin",
        token.pin,
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "asterism-kek-v7",
        "--sensitive",
      ],
      { env: { ...process.env, ...token.env }, stdout: "pipe", stderr: "pipe" },
    );
    expect(r.exitCode).toBe(0);
    expect(keks!.versions()).not.toContain(7);
    keks!.refresh();
    expect(keks!.versions()).toContain(7);
    keks!.ping();
  });
});
