/**
 * A recovering node judges whatever a caller sends before its disk is unlocked: mutated logs and
 * recovery entries must only ever be refused with the owner module's typed errors, and anything accepted
 * must be the genuine approval (same entries, same hashes).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import {
  approve,
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
import {
  type AuditEntry,
  auditEntryHash,
  createAuditEntry,
  parseAuditEntryValue,
  serializeAuditEntry,
} from "./audit-log.ts";
import { ApprovalError, AuditLogError, ChangeRejectedError, OwnerParseError } from "./errors.ts";
import { verifyRecoveryApproval } from "./recovery.ts";

const typed = (err: unknown) =>
  err instanceof OwnerParseError ||
  err instanceof ApprovalError ||
  err instanceof ChangeRejectedError ||
  err instanceof AuditLogError;

let f: Fixture;
let values: unknown[];
let genuine: string[];
beforeAll(async () => {
  f = await createFixture(["alice", "bob"], 1);
  await commit(f, next(f, "attestation-policy", { policy: POLICY_A }), ["alice"]);
  const c = next(f, "recovery", { node: "cp-0", disk: DISK, nonce: NONCE, reason: "outage" });
  const entries = [...f.entries, createAuditEntry(c, [approve(f.auth, key(f, "alice"), c)])];
  values = entries.map((e) => JSON.parse(new TextDecoder().decode(serializeAuditEntry(e))) as unknown);
  genuine = entries.map(auditEntryHash);
});

async function judge(presented: unknown[]): Promise<void> {
  let entries: AuditEntry[];
  try {
    entries = presented.map((v) => parseAuditEntryValue(v));
    await verifyRecoveryApproval({
      entries,
      pin: { anchor: f.state.genesisHash, head: f.state.head },
      node: "cp-0",
      disk: DISK,
      nonceIssued: (n) => n === NONCE,
      now: NOW,
    });
  } catch (err) {
    if (!typed(err)) throw err;
    return;
  }
  expect(entries.map(auditEntryHash)).toEqual(genuine);
}

/** Replace the value at a random path inside `v` with `x`. */
function replaceAt(v: unknown, path: number[], x: unknown): unknown {
  if (path.length === 0 || v === null || typeof v !== "object") return x;
  const keys = Object.keys(v);
  if (keys.length === 0) return x;
  const k = keys[(path[0] as number) % keys.length] as string;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(v) ? [...v] : { ...v };
  (copy as Record<string, unknown>)[k] = replaceAt((v as Record<string, unknown>)[k], path.slice(1), x);
  return copy;
}

describe("verifyRecoveryApproval under mutation", () => {
  test("structural mutations (one JSON value anywhere in the presented log replaced) never verify", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.jsonValue({ maxDepth: 3 }),
        async (i, path, x) => {
          const presented = [...values];
          presented[i % presented.length] = replaceAt(presented[i % presented.length], path, x);
          await judge(presented);
        },
      ),
      { numRuns: Math.min(fuzzRuns(), 500) },
    );
  });
  test("dropped, duplicated and reordered entries never verify", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(values.length - 1), { maxLength: 6 }), async (order) => {
        await judge(order.map((i) => values[i]));
      }),
      { numRuns: Math.min(fuzzRuns(), 500) },
    );
  });
});
