import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeClusterStateConformance } from "@asterism/testing";
import { openSqliteState, type StateError, watchObject } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-state-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => openSqliteState(join(dir, `state-${n++}.db`));

describeClusterStateConformance("sqlite", fresh);

describe("sqlite state", () => {
  test("survives a reopen: nothing lost", async () => {
    const path = join(dir, "persist.db");
    const a = openSqliteState(path);
    await a.create("secret", "kept", { k: new Uint8Array([1, 2, 3]) });
    a.close();
    const b = openSqliteState(path);
    expect((await b.get("secret", "kept"))?.data["k"]).toEqual(new Uint8Array([1, 2, 3]));
    b.close();
  });

  test("two processes' handles on one file see each other's writes and conflicts", async () => {
    const path = join(dir, "shared.db");
    const a = openSqliteState(path);
    const b = openSqliteState(path);
    const o = await a.create("config", "policy", { v: new Uint8Array([1]) });
    await b.update("config", "policy", { v: new Uint8Array([2]) }, o.version);
    try {
      await a.update("config", "policy", { v: new Uint8Array([3]) }, o.version);
      throw new Error("expected a conflict");
    } catch (e) {
      expect((e as StateError).code).toBe("CONFLICT");
    }
  });

  test("a writer in a child process is seen by this one", async () => {
    const path = join(dir, "child.db");
    const script = `import { openSqliteState } from "@asterism/state"; const s = openSqliteState(${JSON.stringify(path)}); await s.create("secret", "from-child", { x: new Uint8Array([7]) }); s.close();`;
    const p = Bun.spawnSync(["bun", "-e", script], { cwd: process.cwd() });
    expect(p.exitCode).toBe(0);
    expect((await openSqliteState(path).get("secret", "from-child"))?.data["x"]).toEqual(new Uint8Array([7]));
  });

  test("watchObject reports appearance, change and deletion, then stops", async () => {
    const s = fresh();
    const seen: (string | undefined)[] = [];
    const ac = new AbortController();
    const done = watchObject(s, "config", "watched", {
      intervalMs: 5,
      signal: ac.signal,
      onChange: (o) => void seen.push(o ? new TextDecoder().decode(o.data["v"]) : undefined),
    });
    const wait = () => Bun.sleep(30);
    await wait();
    const o = await s.create("config", "watched", { v: new TextEncoder().encode("1") });
    await wait();
    await s.update("config", "watched", { v: new TextEncoder().encode("2") }, o.version);
    await wait();
    await s.delete("config", "watched");
    await wait();
    ac.abort();
    await done;
    expect(seen).toEqual([undefined, "1", "2", undefined]);
  });
});
