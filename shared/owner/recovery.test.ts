import { describe, expect, test } from "bun:test";
import { codeOfAsync } from "@asterism/testing";
import {
  approve,
  CLUSTER_ID,
  commit,
  createFixture,
  DISK,
  type Fixture,
  key,
  NONCE,
  NOW,
  next,
  POLICY_A,
} from "./_test-helpers.ts";
import { type AuditEntry, auditEntryHash, createAuditEntry } from "./audit-log.ts";
import { createChange } from "./change.ts";
import { type RecoveryApprovalCheck, verifyRecoveryApproval } from "./recovery.ts";

const NODE = "cp-0";

/** Owners, an approved policy, and a recovery of cp-0's disk for NONCE approved by `by`. */
async function scenario(names: string[], threshold: number, by: string[]) {
  const f = await createFixture(names, threshold);
  await commit(f, next(f, "attestation-policy", { policy: POLICY_A }), names.slice(0, threshold));
  const recovery = recoveryEntry(f, by);
  return { f, entries: [...f.entries, recovery] };
}

function recoveryEntry(
  f: Fixture,
  by: string[],
  payload: Partial<{ node: string; disk: string; nonce: string }> = {},
): AuditEntry {
  const c = next(f, "recovery", { node: NODE, disk: DISK, nonce: NONCE, reason: "outage", ...payload });
  return createAuditEntry(
    c,
    by.map((o) => approve(f.auth, key(f, o), c)),
  );
}

function check(f: Fixture, entries: readonly AuditEntry[], over: Partial<RecoveryApprovalCheck> = {}) {
  return verifyRecoveryApproval({
    entries,
    pin: { anchor: f.state.genesisHash },
    node: NODE,
    disk: DISK,
    nonceIssued: (n) => n === NONCE,
    now: NOW,
    ...over,
  });
}

describe("verifyRecoveryApproval", () => {
  test("the log from genesis plus a recovery for this node, disk and nonce → verified", async () => {
    const { f, entries } = await scenario(["alice", "bob"], 2, ["alice", "bob"]);
    const r = await check(f, entries, { pin: { anchor: f.state.genesisHash, head: f.state.head } });
    expect(r.sequence).toBe(2);
    expect(r.approvedBy).toEqual(["alice", "bob"]);
    expect(r.change.payload).toMatchObject({ node: NODE, disk: DISK, nonce: NONCE });
    expect(r.hash).toBe(auditEntryHash(entries[2] as AuditEntry));
  });

  const cases: {
    name: string;
    setup: (f: Fixture, entries: AuditEntry[]) => Promise<AuditEntry[]> | AuditEntry[];
    over?: (f: Fixture) => Partial<RecoveryApprovalCheck>;
    wantCode: string;
  }[] = [
    {
      name: "no recovery entry (the log alone) → NOT_APPROVED",
      setup: (_f, e) => e.slice(0, -1),
      wantCode: "NOT_APPROVED",
    },
    { name: "genesis only → EMPTY_LOG", setup: (_f, e) => e.slice(0, 1), wantCode: "EMPTY_LOG" },
    {
      name: "approved for another node → RECOVERY_TARGET_MISMATCH",
      setup: (f, e) => [...e.slice(0, -1), recoveryEntry(f, ["alice"], { node: "cp-1" })],
      wantCode: "RECOVERY_TARGET_MISMATCH",
    },
    {
      name: "approved for another disk → RECOVERY_TARGET_MISMATCH",
      setup: (f, e) => [
        ...e.slice(0, -1),
        recoveryEntry(f, ["alice"], { disk: "11111111-2222-4333-8444-555555555555" }),
      ],
      wantCode: "RECOVERY_TARGET_MISMATCH",
    },
    {
      name: "a nonce this node did not issue (or already used: a replay) → RECOVERY_NONCE_INVALID",
      setup: (_f, e) => e,
      over: () => ({ nonceIssued: () => false }),
      wantCode: "RECOVERY_NONCE_INVALID",
    },
    {
      name: "the recovery payload edited after approval (other node) → CHALLENGE_MISMATCH",
      setup: (_f, e) => {
        const last = e[e.length - 1] as AuditEntry;
        const change = {
          ...last.change,
          payload: { ...last.change.payload, node: "cp-1" },
        } as AuditEntry["change"];
        return [...e.slice(0, -1), { ...last, change }];
      },
      wantCode: "CHALLENGE_MISMATCH",
    },
    {
      name: "a tampered policy entry in the chain → ENTRY_INVALID",
      setup: (_f, e) => {
        const p = e[1] as AuditEntry;
        if (p.change.kind !== "attestation-policy") throw new Error("fixture");
        const policy = { ...p.change.payload.policy, measurements: {} };
        return [e[0] as AuditEntry, { ...p, change: { ...p.change, payload: { policy } } }, ...e.slice(2)];
      },
      wantCode: "ENTRY_INVALID",
    },
    {
      name: "the genesis dropped (the log starts elsewhere) → ANCHOR_MISMATCH",
      setup: (_f, e) => e.slice(1),
      wantCode: "ANCHOR_MISMATCH",
    },
    {
      name: "an entry dropped before the recovery (it no longer follows the chain) → STALE_CHANGE",
      setup: (_f, e) => [e[0] as AuditEntry, e[2] as AuditEntry],
      wantCode: "STALE_CHANGE",
    },
    {
      name: "another genesis than the pinned one → ANCHOR_MISMATCH",
      setup: (_f, e) => e,
      over: () => ({ pin: { anchor: "ab".repeat(32) } }),
      wantCode: "ANCHOR_MISMATCH",
    },
    {
      name: "a log truncated below the head the node knew → ROLLED_BACK",
      setup: (_f, e) => e,
      over: (f) => ({ pin: { anchor: f.state.genesisHash, head: { sequence: 2, hash: "cd".repeat(32) } } }),
      wantCode: "ROLLED_BACK",
    },
    {
      name: "a different entry at the pinned head's sequence → ROLLED_BACK",
      setup: (_f, e) => e,
      over: (f) => ({ pin: { anchor: f.state.genesisHash, head: { sequence: 1, hash: "cd".repeat(32) } } }),
      wantCode: "ROLLED_BACK",
    },
    {
      name: "the recovery change expired → CHANGE_EXPIRED",
      setup: (_f, e) => e,
      over: () => ({ now: new Date(NOW.getTime() + 2 * 24 * 3600_000) }),
      wantCode: "CHANGE_EXPIRED",
    },
    {
      name: "a recovery change built on an older head → STALE_CHANGE",
      setup: (f, e) => {
        const c = createChange({
          clusterId: CLUSTER_ID,
          head: { sequence: 0, hash: f.state.genesisHash },
          kind: "recovery",
          payload: { node: NODE, disk: DISK, nonce: NONCE, reason: "outage" },
          now: NOW,
        });
        return [...e.slice(0, -1), createAuditEntry(c, [approve(f.auth, key(f, "alice"), c)])];
      },
      wantCode: "STALE_CHANGE",
    },
  ];
  test.each(cases)("$name", async ({ setup, over, wantCode }) => {
    const { f, entries } = await scenario(["alice"], 1, ["alice"]);
    const presented = await setup(f, entries);
    expect(await codeOfAsync(check(f, presented, over?.(f)))).toBe(wantCode);
  });

  test("fewer owners than the threshold → THRESHOLD_NOT_MET", async () => {
    const { f, entries } = await scenario(["alice", "bob"], 2, ["alice"]);
    expect(await codeOfAsync(check(f, entries))).toBe("THRESHOLD_NOT_MET");
  });

  test("approval by an owner the log removed → UNKNOWN_CREDENTIAL", async () => {
    const f = await createFixture(["alice", "bob"], 1);
    await commit(f, next(f, "attestation-policy", { policy: POLICY_A }), ["alice"]);
    const alice = f.owners.find((o) => o.name === "alice");
    if (!alice) throw new Error("fixture");
    await commit(f, next(f, "owner-change", { owners: [alice], threshold: 1 }), ["alice"]);
    const entries = [...f.entries, recoveryEntry(f, ["bob"])];
    expect(await codeOfAsync(check(f, entries))).toBe("UNKNOWN_CREDENTIAL");
  });

  test("more entries than a node checks before unlock → TOO_MANY_ENTRIES", async () => {
    const { f, entries } = await scenario(["alice"], 1, ["alice"]);
    const many = Array.from({ length: 4097 }, () => entries[0] as AuditEntry);
    expect(await codeOfAsync(check(f, many))).toBe("TOO_MANY_ENTRIES");
  });
});
