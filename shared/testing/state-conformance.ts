import { describe, expect, test } from "bun:test";
import { type ClusterState, StateError } from "@asterism/state";

const te = new TextEncoder();

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof StateError ? e.code : `unexpected ${String(e)}`;
  }
  return undefined;
}

/**
 * The behaviour every ClusterState backend must show, run against each one (SQLite here, Kubernetes
 * through the test API server), so the local cluster and a real cluster cannot drift apart.
 */
export function describeClusterStateConformance(
  name: string,
  open: () => Promise<ClusterState> | ClusterState,
): void {
  describe(`ClusterState conformance: ${name}`, () => {
    test("create, get, update with compare-and-swap, delete", async () => {
      const s = await open();
      const created = await s.create(
        "secret",
        "disk-key-owners",
        { a: te.encode("1"), bin: new Uint8Array([0, 255, 128]) },
        { "app.kubernetes.io/part-of": "asterism" },
      );
      expect(created.version).not.toBe("");
      const got = await s.get("secret", "disk-key-owners");
      expect(got?.data["bin"]).toEqual(new Uint8Array([0, 255, 128]));
      expect(got?.labels).toMatchObject({ "app.kubernetes.io/part-of": "asterism" });
      const updated = await s.update("secret", "disk-key-owners", { a: te.encode("2") }, created.version);
      expect(updated.version).not.toBe(created.version);
      expect(
        await codeOf(s.update("secret", "disk-key-owners", { a: te.encode("3") }, created.version)),
      ).toBe("CONFLICT");
      expect(new TextDecoder().decode((await s.get("secret", "disk-key-owners"))?.data["a"])).toBe("2");
      await s.delete("secret", "disk-key-owners");
      expect(await s.get("secret", "disk-key-owners")).toBeUndefined();
    });

    test("first writer wins on create", async () => {
      const s = await open();
      const results = await Promise.allSettled(
        [0, 1, 2, 3].map((i) => s.create("config", "race", { who: te.encode(String(i)) })),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      for (const r of results)
        if (r.status === "rejected") expect((r.reason as StateError).code).toBe("ALREADY_EXISTS");
    });

    test("concurrent compare-and-swap loses no update", async () => {
      const s = await open();
      await s.create("config", "counter", { n: te.encode("0") });
      const bump = async () => {
        for (let attempt = 0; attempt < 50; attempt++) {
          const cur = (await s.get("config", "counter"))!;
          const n = Number(new TextDecoder().decode(cur.data["n"]));
          try {
            await s.update("config", "counter", { n: te.encode(String(n + 1)) }, cur.version);
            return;
          } catch (e) {
            if (!(e instanceof StateError && e.code === "CONFLICT")) throw e;
          }
        }
        throw new Error("too many conflicts");
      };
      await Promise.all(Array.from({ length: 8 }, bump));
      expect(new TextDecoder().decode((await s.get("config", "counter"))!.data["n"])).toBe("8");
    });

    test("config values keep text and binary bytes exactly", async () => {
      const s = await open();
      await s.create("config", "policy", {
        "policy.json": te.encode('{"a":1}'),
        raw: new Uint8Array([0xff, 0xfe]),
      });
      const o = await s.get("config", "policy");
      expect(new TextDecoder().decode(o?.data["policy.json"])).toBe('{"a":1}');
      expect(o?.data["raw"]).toEqual(new Uint8Array([0xff, 0xfe]));
    });

    test("list filters by labels and sorts by name", async () => {
      const s = await open();
      await s.create("secret", "b-owner", { x: te.encode("1") }, { role: "owner" });
      await s.create("secret", "a-owner", { x: te.encode("1") }, { role: "owner" });
      await s.create("secret", "c-other", { x: te.encode("1") }, { role: "other" });
      expect((await s.list("secret", { role: "owner" })).map((o) => o.name)).toEqual(["a-owner", "b-owner"]);
    });

    test.each([
      ["upper case name", "Bad", {}],
      ["name with slash", "a/b", {}],
      ["empty name", "", {}],
      ["bad data key", "ok", { "a b": new Uint8Array(1) }],
      ["object over 1 MiB", "big", { big: new Uint8Array(1024 * 1024 + 1) }],
    ])("rejects %s", async (_case, name, data) => {
      const s = await open();
      const code = await codeOf(s.create("secret", name, data as Record<string, Uint8Array>));
      expect(code === "INVALID_NAME" || code === "INVALID_DATA").toBe(true);
    });

    test("update and delete of a missing object are NOT_FOUND", async () => {
      const s = await open();
      expect(await codeOf(s.update("secret", "missing", {}, "1"))).toBe("NOT_FOUND");
      expect(await codeOf(s.delete("secret", "missing"))).toBe("NOT_FOUND");
    });
  });
}
