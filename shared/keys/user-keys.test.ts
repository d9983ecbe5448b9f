import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromUtf8, utf8 } from "@asterism/bytes";
import {
  createAesKwKek,
  createFileKeyStore,
  createKekRing,
  createMemoryKeyStore,
  type DataKeyStore,
  KeyStoreError,
  rotateDataKeys,
  UserManagedKeys,
  verifyDataKeys,
} from "./index.ts";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "asterism-keystore-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const kek = (version: number) => createAesKwKek(version, new Uint8Array(32).fill(version));
const ids = Array.from(
  { length: 12 },
  (_, i) => `0000000${i % 10}-0000-4000-8000-${String(i).padStart(12, "0")}`,
);

describe("file key store", () => {
  test("put/get/CAS/list and revisions", async () => {
    const s = createFileKeyStore(tempDir());
    expect(await s.get("a")).toBeUndefined();
    const r1 = await s.compareAndSwap("a", null, utf8("one"));
    expect(r1).toBe("1");
    expect(await s.compareAndSwap("a", null, utf8("two"))).toBeUndefined();
    expect(await s.compareAndSwap("a", "7", utf8("two"))).toBeUndefined();
    expect(await s.compareAndSwap("a", "1", utf8("two"))).toBe("2");
    expect(await s.put("b", utf8("x"))).toBe("1");
    const got = await s.get("a");
    expect(fromUtf8(got!.value)).toBe("two");
    expect(await s.list()).toEqual(["a", "b"]);
  });

  test("concurrent CAS on one key: exactly one winner", async () => {
    const s = createFileKeyStore(tempDir());
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.compareAndSwap("k", null, utf8(`${i}`))),
    );
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
  });

  test.each(["", ".hidden", "../x", "a/b", "x".repeat(200)])("refuses store key %p", async (key) => {
    const s = createFileKeyStore(tempDir());
    await expect(s.get(key)).rejects.toMatchObject({ code: "INVALID_STORE_KEY" });
    await expect(s.put(key, utf8("v"))).rejects.toMatchObject({ code: "INVALID_STORE_KEY" });
  });

  test("create-if-absent is atomic across processes: 4 racing processes, one winner per key", async () => {
    const dir = tempDir();
    const count = 40;
    const procs = [0, 1, 2, 3].map((w) =>
      Bun.spawn(["bun", join(import.meta.dir, "testdata", "create-child.ts")], {
        env: { ...process.env, STORE_DIR: dir, COUNT: String(count), WORKER: String(w) },
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    const won = await Promise.all(
      procs.map(async (p) => {
        const [text, err, code] = await Promise.all([
          new Response(p.stdout).text(),
          new Response(p.stderr).text(),
          p.exited,
        ]);
        expect(code, `racing child failed: ${err}`).toBe(0);
        return JSON.parse(text) as string[];
      }),
    );
    const all = won.flat();
    expect(all.sort()).toEqual(Array.from({ length: count }, (_, i) => `k${i}`).sort());
    const s = createFileKeyStore(dir);
    for (const [w, keys] of won.entries()) {
      for (const k of keys) expect(fromUtf8((await s.get(k))!.value)).toBe(String(w));
    }
  });

  test("corrupt entry → CORRUPT_RECORD; stale temp files are removed on open, young ones kept", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bad.json"), "{nope");
    writeFileSync(join(dir, ".tmp-a-123"), "half");
    writeFileSync(join(dir, ".tmp-b-456"), "in flight");
    utimesSync(join(dir, ".tmp-a-123"), new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const s = createFileKeyStore(dir);
    expect(readdirSync(dir).sort()).toEqual([".tmp-b-456", "bad.json"]);
    await expect(s.get("bad")).rejects.toBeInstanceOf(KeyStoreError);
    await expect(s.get("bad")).rejects.toMatchObject({ code: "CORRUPT_RECORD" });
  });

  test("a second store over the same directory sees everything (restart)", async () => {
    const dir = tempDir();
    const ring = createKekRing([await kek(1)]);
    const a = new UserManagedKeys({ store: createFileKeyStore(dir), ring: () => ring });
    const made = await Promise.all(ids.map((id) => a.getOrCreate(id, 32)));
    const b = new UserManagedKeys({ store: createFileKeyStore(dir), ring: () => ring });
    for (const [i, id] of ids.entries()) expect(await b.get(id, 32)).toEqual(made[i]!.key);
  });
});

describe("user-managed keys", () => {
  test("racing creators all get the same key", async () => {
    const ring = createKekRing([await kek(1)]);
    const keys = new UserManagedKeys({ store: createFileKeyStore(tempDir()), ring: () => ring });
    const got = await Promise.all(Array.from({ length: 10 }, () => keys.getOrCreate("raceKey", 64)));
    expect(got.filter((g) => g.created)).toHaveLength(1);
    for (const g of got) expect(g.key).toEqual(got[0]!.key);
  });

  const cases = [
    { name: "absent key", id: "missing", length: 32, wantCode: "KEY_NOT_FOUND" },
    { name: "length mismatch", id: "present", length: 16, wantCode: "LENGTH_MISMATCH" },
    { name: "empty id", id: "", length: 32, wantCode: "INVALID_KEY_ID" },
    { name: "malformed id", id: "a/b", length: 32, wantCode: "INVALID_KEY_ID" },
    { name: "length 0", id: "present", length: 0, wantCode: "INVALID_LENGTH" },
    { name: "length 4097", id: "present", length: 4097, wantCode: "INVALID_LENGTH" },
  ];
  test.each(cases)("get: $name → $wantCode", async ({ id, length, wantCode }) => {
    const ring = createKekRing([await kek(1)]);
    const keys = new UserManagedKeys({ store: createMemoryKeyStore(), ring: () => ring });
    await keys.getOrCreate("present", 32);
    await expect(keys.get(id, length)).rejects.toMatchObject({ code: wantCode });
  });

  test("a record naming a KEK version the ring lacks → UNKNOWN_KEK_VERSION", async () => {
    const store = createMemoryKeyStore();
    const v2 = createKekRing([await kek(1), await kek(2)]);
    await new UserManagedKeys({ store, ring: () => v2 }).getOrCreate("k", 32);
    const v1only = createKekRing([await kek(1)]);
    await expect(new UserManagedKeys({ store, ring: () => v1only }).get("k", 32)).rejects.toMatchObject({
      code: "UNKNOWN_KEK_VERSION",
    });
  });
});

async function seed(store: DataKeyStore, n: number) {
  const ring = createKekRing([await kek(1)]);
  const keys = new UserManagedKeys({ store, ring: () => ring });
  const out = new Map<string, Uint8Array>();
  for (const id of ids.slice(0, n)) out.set(id, (await keys.getOrCreate(id, 48)).key);
  return out;
}

describe("rotation", () => {
  test("rewraps every key, no key changes, old wraps dropped; second run is a no-op", async () => {
    const store = createMemoryKeyStore();
    const before = await seed(store, 8);
    const ring = createKekRing([await kek(1), await kek(2)]);
    const phases: string[] = [];
    const sum = await rotateDataKeys({ store, ring, onProgress: (e) => void phases.push(e.phase) });
    expect(sum).toEqual({ total: 8, rotated: 8, alreadyCurrent: 0 });
    expect(phases.filter((p) => p === "added")).toHaveLength(8);
    const v2only = createKekRing([await kek(2)]);
    const after = new UserManagedKeys({ store, ring: () => v2only });
    for (const [id, key] of before) expect(await after.get(id, 48)).toEqual(key);
    expect(await rotateDataKeys({ store, ring })).toEqual({ total: 8, rotated: 0, alreadyCurrent: 8 });
  });

  test("resumes from a half-rotated state, including a corrupted target wrap", async () => {
    const store = createMemoryKeyStore();
    const before = await seed(store, 6);
    const ring = createKekRing([await kek(1), await kek(2)]);
    let steps = 0;
    // Stop after 5 steps (the middle of key 3), as if the process died there.
    await rotateDataKeys({
      store,
      ring,
      onProgress: () => {
        if (++steps === 5) throw new Error("killed");
      },
    }).catch(() => undefined);
    // Corrupt the pending target wrap of the half-done key.
    const halfId = (await store.list())[2]!;
    const half = await store.get(halfId);
    const rec = JSON.parse(fromUtf8(half!.value));
    expect(Object.keys(rec.wraps)).toEqual(["1", "2"]);
    rec.wraps["2"] = rec.wraps["1"];
    await store.put(halfId, utf8(JSON.stringify(rec)));
    expect((await verifyDataKeys(store, ring)).failures).toEqual([]);
    await rotateDataKeys({ store, ring });
    const v2only = createKekRing([await kek(2)]);
    expect(await verifyDataKeys(store, v2only)).toEqual({ checked: 6, failures: [] });
    const after = new UserManagedKeys({ store, ring: () => v2only });
    for (const [id, key] of before) expect(await after.get(id, 48)).toEqual(key);
  });
});
