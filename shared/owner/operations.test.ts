import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryLogger } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import { codeOfAsync } from "@asterism/testing";
import { approve, createFixture, key, NOW, next } from "./_test-helpers.ts";
import { createAuditEntry } from "./audit-log.ts";
import { approvedRotation, recordRotationDone } from "./operations.ts";
import { OwnerStore } from "./store.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-owner-ops-"));
const state = openSqliteState(join(dir, "s.db"));
afterAll(() => {
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("approved key rotations", () => {
  test("none approved → NOT_APPROVED; approved → allowed once; a new approval → allowed again", async () => {
    const f = await createFixture(["alice"], 1);
    const store = new OwnerStore(state);
    await store.commit(f.genesis, undefined, NOW);
    const opts = { state, anchor: f.state.genesisHash, key: "kek", logger: createMemoryLogger() };
    expect(await codeOfAsync(approvedRotation(opts))).toBe("NOT_APPROVED");

    const rotate = async () => {
      const log = await store.verifiedLog();
      const f2 = { ...f, state: log!.state };
      const c = next(f2, "kms-key-rotation", { key: "kek", reason: "yearly" });
      await store.commit(createAuditEntry(c, [approve(f.auth, key(f, "alice"), c)]), log!.state, NOW);
      return c.sequence;
    };
    const first = await rotate();
    const r = await approvedRotation(opts);
    expect(r).toMatchObject({ key: "kek", sequence: first, reason: "yearly" });
    // Another key's approval does not count for this one.
    expect(await codeOfAsync(approvedRotation({ ...opts, key: "other" }))).toBe("NOT_APPROVED");
    await recordRotationDone(state, r);
    expect(await codeOfAsync(approvedRotation(opts))).toBe("NOT_APPROVED");
    const second = await rotate();
    expect((await approvedRotation(opts)).sequence).toBe(second);
  });
});
