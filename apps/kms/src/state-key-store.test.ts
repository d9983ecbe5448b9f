/**
 * The same store contract on every DataKeyStore backend: the memory and file stores of @asterism/keys
 * and the cluster-state adapter over the embedded SQLite backend of @asterism/state.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromUtf8, utf8 } from "@asterism/bytes";
import {
  createAesKwKek,
  createFileKeyStore,
  createKekRing,
  createMemoryKeyStore,
  type DataKeyStore,
  rotateDataKeys,
  UserManagedKeys,
  verifyDataKeys,
} from "@asterism/keys";
import { openSqliteState } from "@asterism/state";
import { createStateKeyStore } from "./state-key-store.ts";

const dirs: string[] = [];
const closers: (() => void)[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), "asterism-kms-store-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const c of closers) c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const backends: { name: string; open: () => DataKeyStore }[] = [
  { name: "memory", open: createMemoryKeyStore },
  { name: "file", open: () => createFileKeyStore(temp()) },
  {
    name: "cluster state (SQLite)",
    open: () => {
      const s = openSqliteState(join(temp(), "state.db"));
      closers.push(() => s.close());
      return createStateKeyStore(s);
    },
  },
];

const UUID = "12345678-1234-1234-1234-123456789abc";

describe.each(backends)("DataKeyStore contract: $name", ({ open }) => {
  test("create-if-absent, CAS on revision, put, list with UUID and named ids", async () => {
    const s = open();
    expect(await s.get(UUID)).toBeUndefined();
    const r1 = await s.compareAndSwap(UUID, null, utf8("one"));
    expect(r1).toBeDefined();
    expect(await s.compareAndSwap(UUID, null, utf8("again"))).toBeUndefined();
    expect(await s.compareAndSwap(UUID, "999", utf8("stale"))).toBeUndefined();
    const r2 = await s.compareAndSwap(UUID, r1!, utf8("two"));
    expect(r2).toBeDefined();
    expect(r2).not.toBe(r1);
    await s.put("measurementSecret", utf8("m"));
    await s.put("measurementSecret", utf8("m2"));
    expect(fromUtf8((await s.get(UUID))!.value)).toBe("two");
    expect(fromUtf8((await s.get("measurementSecret"))!.value)).toBe("m2");
    expect(await s.list()).toEqual([UUID, "measurementSecret"].sort());
  });

  test("20 concurrent creators of one id: exactly one wins", async () => {
    const s = open();
    const r = await Promise.all(
      Array.from({ length: 20 }, (_, i) => s.compareAndSwap(UUID, null, utf8(String(i)))),
    );
    expect(r.filter((x) => x !== undefined)).toHaveLength(1);
  });

  test.each(["", "../x", "a/b", ".hidden"])("refuses store key %p with INVALID_STORE_KEY", async (key) => {
    await expect(open().get(key)).rejects.toMatchObject({ code: "INVALID_STORE_KEY" });
  });

  test("user-managed keys and a KEK rotation on this backend", async () => {
    const store = open();
    const v1 = createKekRing([await createAesKwKek(1, new Uint8Array(32).fill(1))]);
    const umk = new UserManagedKeys({ store, ring: () => v1 });
    const ids = [UUID, "measurementSecret", "00000000-0000-4000-8000-000000000001"];
    const before = await Promise.all(ids.map(async (id) => (await umk.getOrCreate(id, 32)).key));
    const both = createKekRing([v1.get(1)!, await createAesKwKek(2, new Uint8Array(32).fill(2))]);
    expect(await rotateDataKeys({ store, ring: both })).toEqual({ total: 3, rotated: 3, alreadyCurrent: 0 });
    const v2 = createKekRing([both.get(2)!]);
    expect(await verifyDataKeys(store, v2)).toEqual({ checked: 3, failures: [] });
    const after = new UserManagedKeys({ store, ring: () => v2 });
    for (const [i, id] of ids.entries()) expect(await after.get(id, 32)).toEqual(before[i]!);
  });
});
