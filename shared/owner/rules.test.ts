import { describe, expect, test } from "bun:test";
import { codeOfAsync } from "@asterism/testing";
import {
  approve,
  CLUSTER_ID,
  commit,
  createFixture,
  DISK,
  key,
  NONCE,
  NOW,
  next,
  POLICY_A,
  RP,
  registerPasskey,
} from "./_test-helpers.ts";
import { applyAuditEntry, createAuditEntry } from "./audit-log.ts";
import { type Change, type ChangeOf, createChange } from "./change.ts";
import { checkApprovals, evaluateApprovals } from "./rules.ts";

describe("genesis", () => {
  test("every enrolled passkey must prove possession", async () => {
    const f = await createFixture(["alice", "bob"], 1, 2);
    expect(f.state.owners.map((o) => o.name)).toEqual(["alice", "bob"]);
    expect(f.state.genesisHash).toBe(f.state.head.hash);
    const partial = f.genesis.approvals.slice(1);
    expect(await codeOfAsync(checkApprovals(undefined, f.genesis.change, partial))).toBe(
      "POSSESSION_NOT_PROVEN",
    );
  });
  test("a genesis whose threshold exceeds the owners → INVALID_PAYLOAD", async () => {
    const f = await createFixture(["alice"], 1);
    const bad = createChange({
      clusterId: CLUSTER_ID,
      head: undefined,
      kind: "genesis",
      payload: { owners: f.owners, threshold: 2, rp: RP },
      now: NOW,
    });
    expect(await codeOfAsync(checkApprovals(undefined, bad, [approve(f.auth, key(f, "alice"), bad)]))).toBe(
      "INVALID_PAYLOAD",
    );
  });
  test.each([
    ["an https origin on another host", { id: "localhost", origins: ["https://example.com"] }],
    ["plain http for a real domain", { id: "example.com", origins: ["http://example.com"] }],
  ])("genesis with %s → INVALID_PAYLOAD", async (_n, rp) => {
    const f = await createFixture(["alice"], 1);
    const bad = createChange({
      clusterId: CLUSTER_ID,
      head: undefined,
      kind: "genesis",
      payload: { owners: f.owners, threshold: 1, rp },
      now: NOW,
    });
    expect(await codeOfAsync(checkApprovals(undefined, bad, []))).toBe("INVALID_PAYLOAD");
  });
  test("a second genesis → WRONG_KIND; a first entry of another kind → WRONG_KIND", async () => {
    const f = await createFixture(["alice"], 1);
    const g = f.genesis.change as ChangeOf<"genesis">;
    const again = createChange({
      clusterId: CLUSTER_ID,
      head: f.state.head,
      kind: "genesis",
      payload: g.payload,
      now: NOW,
    });
    expect(await codeOfAsync(checkApprovals(f.state, again, []))).toBe("WRONG_KIND");
    const policy = createChange({
      clusterId: CLUSTER_ID,
      head: undefined,
      kind: "attestation-policy",
      payload: { policy: POLICY_A },
      now: NOW,
    });
    expect(await codeOfAsync(checkApprovals(undefined, policy, []))).toBe("WRONG_KIND");
  });
});

describe("M of N owners", () => {
  test("2 of 3: one owner is not enough, two passkeys of one owner are one approval, two owners are", async () => {
    const f = await createFixture(["alice", "bob", "carol"], 2, 2);
    const c = next(f, "attestation-policy", { policy: POLICY_A });
    const one = [approve(f.auth, key(f, "alice"), c)];
    expect(await codeOfAsync(checkApprovals(f.state, c, one))).toBe("THRESHOLD_NOT_MET");
    const sameOwner = [...one, approve(f.auth, key(f, "alice", 1), c)];
    const progress = await evaluateApprovals(f.state, c, sameOwner);
    expect(progress).toMatchObject({ approvedBy: ["alice"], required: 2, complete: false });
    const two = [...sameOwner, approve(f.auth, key(f, "carol"), c)];
    expect((await checkApprovals(f.state, c, two)).approvedBy).toEqual(["alice", "carol"]);
  });
  test("the same passkey twice → DUPLICATE_APPROVAL", async () => {
    const f = await createFixture(["alice", "bob"], 2);
    const c = next(f, "recovery", {
      node: "cp-0",
      disk: DISK,
      nonce: NONCE,
      reason: "all control planes lost",
    });
    const a = approve(f.auth, key(f, "alice"), c);
    expect(await codeOfAsync(checkApprovals(f.state, c, [a, a]))).toBe("DUPLICATE_APPROVAL");
  });
  test("a stranger's passkey → UNKNOWN_CREDENTIAL", async () => {
    const f = await createFixture(["alice"], 1);
    const stranger = await registerPasskey(f.auth, "mallory");
    const c = next(f, "kms-key-rotation", { key: "kek", reason: "yearly" });
    expect(await codeOfAsync(checkApprovals(f.state, c, [approve(f.auth, stranger.passkey, c)]))).toBe(
      "UNKNOWN_CREDENTIAL",
    );
  });
});

describe("chain position and time", () => {
  test("replaying an applied change (stale previous/sequence) → STALE_CHANGE", async () => {
    const f = await createFixture(["alice"], 1);
    const c = next(f, "attestation-policy", { policy: POLICY_A });
    const entry = await commit(f, c, ["alice"]);
    expect(await codeOfAsync(checkApprovals(f.state, entry.change, entry.approvals))).toBe("STALE_CHANGE");
  });
  test("another cluster → CLUSTER_MISMATCH", async () => {
    const f = await createFixture(["alice"], 1);
    const c = createChange({
      clusterId: "d2".repeat(32),
      head: f.state.head,
      kind: "recovery",
      payload: { node: "n", disk: DISK, nonce: NONCE, reason: "r" },
      now: NOW,
    });
    expect(await codeOfAsync(checkApprovals(f.state, c, [approve(f.auth, key(f, "alice"), c)]))).toBe(
      "CLUSTER_MISMATCH",
    );
  });
  test.each([
    ["after expiry", new Date(NOW.getTime() + 25 * 3600_000)],
    ["long before creation", new Date(NOW.getTime() - 3600_000)],
  ])("approving %s → CHANGE_EXPIRED", async (_n, now) => {
    const f = await createFixture(["alice"], 1);
    const c = next(f, "attestation-policy", { policy: POLICY_A });
    expect(
      await codeOfAsync(checkApprovals(f.state, c, [approve(f.auth, key(f, "alice"), c)], { now })),
    ).toBe("CHANGE_EXPIRED");
  });
});

describe("owner changes", () => {
  test("adding a passkey needs the threshold of current owners and the new passkey's possession proof", async () => {
    const f = await createFixture(["alice", "bob"], 2);
    const dave = await registerPasskey(f.auth, "dave", "dave's key");
    const owners = [...f.owners, { name: "dave", credentials: [dave.credential] }];
    const c: Change = next(f, "owner-change", { owners, threshold: 2 });
    const byOwners = [approve(f.auth, key(f, "alice"), c), approve(f.auth, key(f, "bob"), c)];
    expect(await codeOfAsync(checkApprovals(f.state, c, byOwners))).toBe("POSSESSION_NOT_PROVEN");
    const byNew = [approve(f.auth, dave.passkey, c)];
    expect(await codeOfAsync(checkApprovals(f.state, c, byNew))).toBe("THRESHOLD_NOT_MET");
    f.state = await applyAuditEntry(f.state, createAuditEntry(c, [...byOwners, ...byNew]));
    expect(f.state.owners.map((o) => o.name)).toEqual(["alice", "bob", "dave"]);
  });
  test("a removed owner can no longer approve", async () => {
    const f = await createFixture(["alice", "bob"], 1);
    await commit(f, next(f, "owner-change", { owners: [f.owners[0]!], threshold: 1 }), ["alice"]);
    const c = next(f, "attestation-policy", { policy: POLICY_A });
    expect(await codeOfAsync(checkApprovals(f.state, c, [approve(f.auth, key(f, "bob"), c)]))).toBe(
      "UNKNOWN_CREDENTIAL",
    );
  });
  test.each([
    [
      "threshold above the owner count",
      (o: ChangeOf<"genesis">) => ({ owners: o.payload.owners, threshold: 3 }),
    ],
    [
      "one passkey under two owners",
      (o: ChangeOf<"genesis">) => ({
        owners: [o.payload.owners[0]!, { name: "twin", credentials: o.payload.owners[0]!.credentials }],
        threshold: 1,
      }),
    ],
    [
      "two owners with one name",
      (o: ChangeOf<"genesis">) => ({
        owners: [o.payload.owners[0]!, { ...o.payload.owners[1]!, name: "alice" }],
        threshold: 1,
      }),
    ],
  ])("%s → INVALID_PAYLOAD", async (_n, payload) => {
    const f = await createFixture(["alice", "bob"], 1);
    const c = next(f, "owner-change", payload(f.genesis.change as ChangeOf<"genesis">));
    expect(await codeOfAsync(checkApprovals(f.state, c, []))).toBe("INVALID_PAYLOAD");
  });
});

describe("counters across entries", () => {
  test("an approval whose counter is not above the last entry's → COUNTER_REPLAY", async () => {
    const f = await createFixture(["alice"], 1);
    const before = key(f, "alice").counter;
    await commit(f, next(f, "attestation-policy", { policy: POLICY_A }), ["alice"]);
    expect(f.state.counters.get(f.owners[0]!.credentials[0]!.id)).toBe(before + 1);
    const c = next(f, "recovery", { node: "cp-0", disk: DISK, nonce: NONCE, reason: "r" });
    const fresh = approve(f.auth, key(f, "alice"), c); // counter before + 2
    key(f, "alice").counter = before; // a cloned authenticator, one step behind
    const behind = approve(f.auth, key(f, "alice"), c); // counter before + 1: already seen
    expect(await codeOfAsync(checkApprovals(f.state, c, [behind]))).toBe("COUNTER_REPLAY");
    expect(await codeOfAsync(checkApprovals(f.state, c, [fresh]))).toBeUndefined();
  });
});
