import { beforeAll, describe, expect, test } from "bun:test";
import { isAsterismError } from "@asterism/errors";
import {
  approve,
  commit,
  createFixture,
  DISK,
  type Fixture,
  key,
  NONCE,
  next,
  POLICY_A,
  POLICY_B,
} from "./_test-helpers.ts";
import {
  type AuditEntry,
  auditEntryHash,
  parseAuditEntry,
  serializeAuditEntry,
  verifyAuditLog,
} from "./audit-log.ts";
import { canonicalJsonBytes } from "./canonical-json.ts";
import { AuditLogError } from "./errors.ts";

let f: Fixture;
beforeAll(async () => {
  f = await createFixture(["alice", "bob", "carol"], 2);
  await commit(f, next(f, "attestation-policy", { policy: POLICY_A }), ["alice", "bob"]);
  await commit(f, next(f, "node-revocation", { nodes: ["worker-7"], reason: "disk stolen" }), [
    "bob",
    "carol",
  ]);
  await commit(f, next(f, "attestation-policy", { policy: POLICY_B }), ["alice", "carol"]);
  await commit(f, next(f, "kms-key-rotation", { key: "kek", reason: "yearly" }), ["alice", "carol"]);
});

async function failure(
  entries: readonly AuditEntry[],
  anchor?: string,
): Promise<{ code: string; inner?: string }> {
  try {
    await verifyAuditLog(entries, anchor ? { anchor } : {});
    return { code: "ACCEPTED" };
  } catch (err) {
    if (!(err instanceof AuditLogError)) throw err;
    const cause = err.cause;
    return { code: err.code, ...(isAsterismError(cause) ? { inner: cause.code } : {}) };
  }
}

/** A copy of the log with entry `i` replaced (the value re-parsed, as a verifier reading state would). */
function withEntry(i: number, mutate: (e: Record<string, unknown>) => void): AuditEntry[] {
  return f.entries.map((e, j) => {
    if (j !== i) return e;
    const value = JSON.parse(new TextDecoder().decode(serializeAuditEntry(e)));
    mutate(value);
    return parseAuditEntry(canonicalJsonBytes(value));
  });
}

describe("verifyAuditLog", () => {
  test("the whole log verifies from the anchor and yields the state in force", async () => {
    const { state, hashes } = await verifyAuditLog(f.entries, { anchor: f.state.genesisHash });
    expect(hashes).toHaveLength(5);
    expect(state.head).toEqual({ sequence: 4, hash: auditEntryHash(f.entries[4]!) });
    expect(state.policy?.json).toEqual(POLICY_B);
    expect(state.policy?.sequence).toBe(3);
    expect([...state.revokedNodes.keys()]).toEqual(["worker-7"]);
    expect(state.keyRotations.map((r) => r.payload.key)).toEqual(["kek"]);
  });
  test("serialization round-trips byte for byte", () => {
    for (const e of f.entries)
      expect(serializeAuditEntry(parseAuditEntry(serializeAuditEntry(e)))).toEqual(serializeAuditEntry(e));
  });

  const tampered: {
    name: string;
    make: () => AuditEntry[];
    anchor?: boolean;
    code: string;
    inner?: string;
  }[] = [
    {
      name: "a measurement edited in an approved policy entry",
      make: () =>
        withEntry(3, (e) => {
          (
            e["change"] as { payload: { policy: { measurements: Record<string, unknown> } } }
          ).payload.policy.measurements["4"] = {
            expected: "00".repeat(32),
            warnOnly: false,
          };
        }),
      code: "ENTRY_INVALID",
      inner: "CHALLENGE_MISMATCH",
    },
    {
      name: "an approval removed (below threshold)",
      make: () => withEntry(1, (e) => (e["approvals"] as unknown[]).splice(1, 1)),
      code: "ENTRY_INVALID",
      inner: "THRESHOLD_NOT_MET",
    },
    {
      name: "a still-valid entry rewritten (approvals reordered)",
      make: () => withEntry(1, (e) => (e["approvals"] as unknown[]).reverse()),
      code: "CHAIN_BROKEN", // entry 2 names the hash of the original entry 1
    },
    {
      name: "an approval removed from the last entry",
      make: () => withEntry(4, (e) => (e["approvals"] as unknown[]).splice(1, 1)),
      code: "ENTRY_INVALID",
      inner: "THRESHOLD_NOT_MET",
    },
    {
      name: "an entry dropped from the middle",
      make: () => f.entries.filter((_, i) => i !== 2),
      code: "CHAIN_BROKEN",
    },
    {
      name: "two entries swapped",
      make: () => [f.entries[0]!, f.entries[2]!, f.entries[1]!, f.entries[3]!, f.entries[4]!],
      code: "CHAIN_BROKEN",
    },
    { name: "a log from another genesis", make: () => f.entries, anchor: true, code: "ANCHOR_MISMATCH" },
    { name: "no entries", make: () => [], code: "EMPTY_LOG" },
  ];
  test.each(tampered)("tampered: $name → $code", async ({ make, anchor, code, inner }) => {
    const r = await failure(make(), anchor ? "ab".repeat(32) : f.state.genesisHash);
    expect(r.code).toBe(code);
    if (inner) expect(r.inner).toBe(inner);
  });

  test("an approval copied from another entry (replayed) → ENTRY_INVALID / CHALLENGE_MISMATCH", async () => {
    const stolen = f.entries[1]!.approvals[0]!;
    const c = next(f, "recovery", { node: "cp-0", disk: DISK, nonce: NONCE, reason: "r" });
    const forged: AuditEntry = {
      format: "asterism.audit-entry/v1",
      change: c,
      approvals: [stolen, approve(f.auth, key(f, "carol"), c)],
    };
    const r = await failure([...f.entries, forged], f.state.genesisHash);
    expect(r).toEqual({ code: "ENTRY_INVALID", inner: "CHALLENGE_MISMATCH" });
  });

  test("resume skips re-verifying a prefix but still checks what follows", async () => {
    const prefix = await verifyAuditLog(f.entries.slice(0, 3));
    const full = await verifyAuditLog(f.entries, { resume: prefix });
    expect(full.state.head.sequence).toBe(4);
    const bad = withEntry(4, (e) => (e["approvals"] as unknown[]).splice(0, 1));
    await expect(verifyAuditLog(bad, { resume: prefix })).rejects.toBeInstanceOf(AuditLogError);
  });
});
