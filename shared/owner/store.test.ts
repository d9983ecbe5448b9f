import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAttestationPolicy } from "@asterism/attestation";
import { createMemoryLogger } from "@asterism/service";
import { type ClusterState, openSqliteState } from "@asterism/state";
import { codeOfAsync } from "@asterism/testing";
import {
  approve,
  createFixture,
  DISK,
  type Fixture,
  key,
  NONCE,
  NOW,
  next,
  POLICY_A,
  POLICY_B,
} from "./_test-helpers.ts";
import { canonicalJsonBytes } from "./canonical-json.ts";
import type { PolicyJson } from "./change.ts";
import { createApprovedStateLoader } from "./loader.ts";
import { enforceApprovedPolicy } from "./policy-gate.ts";
import { auditEntryName, OwnerStore, POLICY_KEY, POLICY_OBJECT } from "./store.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-owner-"));
const opened: { close(): void }[] = [];
afterAll(() => {
  for (const s of opened) s.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
let state: ClusterState;
let store: OwnerStore;
let f: Fixture;

beforeEach(async () => {
  const s = openSqliteState(join(dir, `state-${n++}.db`));
  opened.push(s);
  state = s;
  store = new OwnerStore(state);
  f = await createFixture(["alice", "bob"], 2);
  await store.commit(f.genesis, undefined, NOW);
});

/** Propose and fully approve a policy change through the store. */
async function approvePolicy(policy: PolicyJson) {
  const log = await store.verifiedLog({ anchor: f.state.genesisHash });
  const change = next({ ...f, state: log!.state }, "attestation-policy", { policy });
  const p = await store.propose(change);
  const first = await store.approve(p.digest, approve(f.auth, key(f, "alice"), change), { now: NOW });
  expect(first.committed).toBeUndefined();
  expect(first.progress).toMatchObject({ approvedBy: ["alice"], required: 2, complete: false });
  const second = await store.approve(p.digest, approve(f.auth, key(f, "bob"), change), { now: NOW });
  expect(second.committed?.sequence).toBe(change.sequence);
  return { change, digest: p.digest };
}

describe("OwnerStore", () => {
  test("propose → approvals collected → committed, pending removed, policy published", async () => {
    const { change, digest } = await approvePolicy(POLICY_A);
    expect(await store.getPending(digest)).toBeUndefined();
    const log = await store.verifiedLog({ anchor: f.state.genesisHash });
    expect(log?.state.head.sequence).toBe(change.sequence);
    expect(new TextDecoder().decode(await store.publishedPolicy())).toBe(
      new TextDecoder().decode(canonicalJsonBytes(POLICY_A)),
    );
  });

  test("an approval for a different change is refused and not stored", async () => {
    const log = await store.verifiedLog();
    const a = next({ ...f, state: log!.state }, "attestation-policy", { policy: POLICY_A });
    const b = next({ ...f, state: log!.state }, "recovery", {
      node: "cp-0",
      disk: DISK,
      nonce: NONCE,
      reason: "r",
    });
    const pa = await store.propose(a);
    await store.propose(b);
    expect(
      await codeOfAsync(store.approve(pa.digest, approve(f.auth, key(f, "alice"), b), { now: NOW })),
    ).toBe("CHALLENGE_MISMATCH");
    expect((await store.getPending(pa.digest))?.approvals).toHaveLength(0);
  });

  test("a replayed approval (same assertion again, after commit) is refused", async () => {
    const log = await store.verifiedLog();
    const change = next({ ...f, state: log!.state }, "attestation-policy", { policy: POLICY_A });
    const p = await store.propose(change);
    const alice = approve(f.auth, key(f, "alice"), change);
    await store.approve(p.digest, alice, { now: NOW });
    await store.approve(p.digest, approve(f.auth, key(f, "bob"), change), { now: NOW });
    // The change is in the log: proposing it again and replaying the assertion finds it stale.
    await store.propose(change);
    expect(await codeOfAsync(store.approve(p.digest, alice, { now: NOW }))).toBe("STALE_CHANGE");
  });

  test("two committers racing for one slot: the second gets STALE_CHANGE", async () => {
    const log = await store.verifiedLog();
    const c = next({ ...f, state: log!.state }, "kms-key-rotation", { key: "kek", reason: "r" });
    const entry = {
      format: "asterism.audit-entry/v1" as const,
      change: c,
      approvals: [approve(f.auth, key(f, "alice"), c), approve(f.auth, key(f, "bob"), c)],
    };
    await store.commit(entry, log!.state, NOW);
    expect(await codeOfAsync(store.commit(entry, log!.state, NOW))).toBe("STALE_CHANGE");
  });

  test("unreadable pending objects are reported, not approved", async () => {
    await state.create(
      "config",
      "asterism-change-0000",
      { "change.json": new TextEncoder().encode("{}") },
      { "asterism.dev/owner": "pending-change" },
    );
    const { pending, unreadable } = await store.listPending();
    expect(pending).toHaveLength(0);
    expect(unreadable).toEqual([{ name: "asterism-change-0000", code: "INVALID_SCHEMA" }]);
  });
});

describe("approved-state loader", () => {
  test("no approved policy yet → NO_APPROVED_POLICY (services fail closed)", async () => {
    const loader = createApprovedStateLoader({
      state,
      anchor: f.state.genesisHash,
      logger: createMemoryLogger(),
    });
    expect(await codeOfAsync(loader.loadPolicy())).toBe("NO_APPROVED_POLICY");
  });

  test("loads the approved policy; a policy edited directly in state is refused loudly and the approved one stays", async () => {
    await approvePolicy(POLICY_A);
    const logger = createMemoryLogger();
    const refusals: string[] = [];
    const loader = createApprovedStateLoader({
      state,
      anchor: f.state.genesisHash,
      logger,
      onRefused: (e) => refusals.push(e.code),
    });
    expect((await loader.loadPolicy()).json).toEqual(POLICY_A);
    expect((await loader.load()).refused).toHaveLength(0);

    // Someone with write access to cluster state replaces the policy (Constellation's weakness).
    const o = await state.get("config", POLICY_OBJECT);
    await state.update("config", POLICY_OBJECT, { [POLICY_KEY]: canonicalJsonBytes(POLICY_B) }, o!.version);
    const r = await loader.load();
    expect(r.policy?.json).toEqual(POLICY_A);
    expect(r.refused.map((e) => e.code)).toEqual(["POLICY_NOT_APPROVED"]);
    expect(refusals).toEqual(["POLICY_NOT_APPROVED"]);
    const line = logger.lines.find((l) => l["code"] === "POLICY_NOT_APPROVED");
    expect(line).toMatchObject({ level: "error", object: POLICY_OBJECT });
  });

  test("a tampered audit entry is refused: the last verified state stays; a fresh loader fails closed", async () => {
    await approvePolicy(POLICY_A);
    const logger = createMemoryLogger();
    const loader = createApprovedStateLoader({ state, anchor: f.state.genesisHash, logger });
    await loader.loadPolicy();
    const name = auditEntryName(1);
    const o = await state.get("config", name);
    const text = new TextDecoder().decode(o!.data["entry.json"]).replace("44".repeat(32), "00".repeat(32));
    await state.update("config", name, { "entry.json": new TextEncoder().encode(text) }, o!.version);

    const r = await loader.load();
    expect(r.policy?.json).toEqual(POLICY_A);
    expect(r.refused.map((e) => e.code)).toEqual(["CHAIN_BROKEN"]);
    const fresh = createApprovedStateLoader({ state, anchor: f.state.genesisHash, logger });
    expect(await codeOfAsync(fresh.load())).toBe("ENTRY_INVALID");
    expect(logger.lines.filter((l) => l["level"] === "error").length).toBeGreaterThanOrEqual(2);
  });

  test("a log truncated to roll back a policy is refused while the loader runs", async () => {
    await approvePolicy(POLICY_A);
    await approvePolicy(POLICY_B);
    const loader = createApprovedStateLoader({
      state,
      anchor: f.state.genesisHash,
      logger: createMemoryLogger(),
    });
    expect((await loader.loadPolicy()).json).toEqual(POLICY_B);
    await state.delete("config", auditEntryName(2));
    const o = await state.get("config", POLICY_OBJECT);
    await state.update("config", POLICY_OBJECT, { [POLICY_KEY]: canonicalJsonBytes(POLICY_A) }, o!.version);
    const r = await loader.load();
    expect(r.policy?.json).toEqual(POLICY_B);
    expect(r.refused.map((e) => e.code)).toEqual(["CHAIN_BROKEN", "POLICY_NOT_APPROVED"]);
  });

  test("another genesis (a whole log written by someone else) → ANCHOR_MISMATCH", async () => {
    const loader = createApprovedStateLoader({
      state,
      anchor: "ab".repeat(32),
      logger: createMemoryLogger(),
    });
    expect(await codeOfAsync(loader.load())).toBe("ANCHOR_MISMATCH");
  });
});

describe("enforceApprovedPolicy (services with their own policy copy)", () => {
  test("the approved policy is enforced; a differing stored copy is refused loudly, once per episode; another spelling is not refused", async () => {
    const logger = createMemoryLogger();
    const refused: string[] = [];
    const loader = createApprovedStateLoader({
      state,
      anchor: f.state.genesisHash,
      logger,
      onRefused: (e) => refused.push(e.code),
    });
    expect(
      await codeOfAsync(enforceApprovedPolicy({ loader, stored: undefined, object: "join-config" })),
    ).toBe("NO_APPROVED_POLICY");
    await approvePolicy(POLICY_A);
    const sameSpelledOtherwise = parseAttestationPolicy(
      new TextEncoder().encode(
        JSON.stringify({
          measurements: {
            "12": { expected: "12".repeat(32), warnOnly: true },
            "9": "99".repeat(32).toUpperCase(),
            "4": "44".repeat(32),
          },
          variants: ["qemu-vtpm"],
        }),
      ),
    );
    const ok = await enforceApprovedPolicy({ loader, stored: sameSpelledOtherwise, object: "join-config" });
    expect(ok.refused).toHaveLength(0);
    expect(ok.approved.json).toEqual(POLICY_A);

    const edited = parseAttestationPolicy(canonicalJsonBytes(POLICY_B));
    for (let i = 0; i < 3; i++) {
      const r = await enforceApprovedPolicy({ loader, stored: edited, object: "join-config" });
      expect(r.approved.json).toEqual(POLICY_A);
      expect(r.refused.map((e) => e.code)).toEqual(["POLICY_NOT_APPROVED"]);
    }
    expect(refused).toEqual(["POLICY_NOT_APPROVED"]);
    const lines = logger.lines.filter((l) => l["code"] === "POLICY_NOT_APPROVED");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", object: "join-config" });
    // Cleared, then back: reported again.
    await enforceApprovedPolicy({ loader, stored: sameSpelledOtherwise, object: "join-config" });
    await enforceApprovedPolicy({ loader, stored: edited, object: "join-config" });
    expect(refused).toEqual(["POLICY_NOT_APPROVED", "POLICY_NOT_APPROVED"]);
  });
});

describe("importLog: a log built elsewhere (before the cluster state existed) copied into state", () => {
  test("imported once, verified from the anchor, long after its changes expired; the policy copy published", async () => {
    await approvePolicy(POLICY_A);
    const entries = await store.readEntries();
    const target = openSqliteState(join(dir, `import-${n++}.db`));
    opened.push(target);
    const other = new OwnerStore(target);
    // No clock involved: history is not subject to the changes' validity windows.
    expect(await other.importLog(entries, { anchor: f.state.genesisHash })).toEqual({ imported: 2 });
    expect(await other.importLog(entries, { anchor: f.state.genesisHash })).toEqual({ imported: 0 });
    const loader = createApprovedStateLoader({
      state: target,
      anchor: f.state.genesisHash,
      logger: createMemoryLogger(),
    });
    expect((await loader.loadPolicy()).json).toEqual(POLICY_A);
    expect(await other.publishedPolicy()).toEqual(canonicalJsonBytes(POLICY_A));
  });
  test("another anchor → ANCHOR_MISMATCH; a state holding other entries → CHAIN_BROKEN", async () => {
    await approvePolicy(POLICY_A);
    const entries = await store.readEntries();
    expect(await codeOfAsync(store.importLog(entries, { anchor: "ab".repeat(32) }))).toBe("ANCHOR_MISMATCH");
    const g = await createFixture(["carol"], 1);
    const target = openSqliteState(join(dir, `import-${n++}.db`));
    opened.push(target);
    await new OwnerStore(target).commit(g.genesis, undefined, NOW);
    expect(
      await codeOfAsync(new OwnerStore(target).importLog(entries, { anchor: f.state.genesisHash })),
    ).toBe("CHAIN_BROKEN");
  });
});
