/**
 * Recovery approvals, checked by the node being recovered. When every control plane is down the cluster
 * state (and with it the audit log) is unreachable, and the recovering node cannot read its own disk
 * before it is unlocked. So the node keeps, outside the encrypted volume, what it needs to judge an
 * approval: the pinned anchor (genesis hash) and the newest log head it was told about at init or join.
 * The CLI brings the log itself: every entry from genesis, ending with a `recovery` change that names
 * this node, this disk and a nonce the node issued during this boot, approved by the owners in force at
 * that point of the chain.
 *
 * What this proves to the node: the owners (M of N, under the rules replayed from the anchor) approved
 * recovering exactly this disk, for this request. What it cannot prove: that no entry after the pinned
 * head was withheld — an owner removed after the node last learnt the head can still approve against
 * the truncated log (see docs/owner.md "Recovery").
 */

import { type AuditEntry, auditEntryHash, MAX_AUDIT_ENTRIES, verifyAuditLog } from "./audit-log.ts";
import type { ChainPosition, ChangeOf } from "./change.ts";
import { AuditLogError, ChangeRejectedError } from "./errors.ts";
import { type ApprovalProgress, evaluateApprovals } from "./rules.ts";

/**
 * Most entries a recovery request may carry. A node checks them before its disk is unlocked, for
 * anyone who can reach its recovery endpoint, so the bound is tighter than {@link MAX_AUDIT_ENTRIES}.
 */
export const MAX_RECOVERY_ENTRIES = 4096;

/** What a node recorded about its cluster's owners (public values, kept beside the disk's salt). */
export interface OwnerPin {
  /** Hash of the genesis entry (hex). */
  readonly anchor: string;
  /** The newest log head the node was told about; the presented log must contain it. */
  readonly head?: ChainPosition;
}

/** Options of {@link verifyRecoveryApproval}. */
export interface RecoveryApprovalCheck {
  /** The audit log from genesis, ending with the `recovery` entry. */
  readonly entries: readonly AuditEntry[];
  readonly pin: OwnerPin;
  /** This node's name and the LUKS UUID of its state disk. */
  readonly node: string;
  readonly disk: string;
  /** True for a nonce this node issued during this boot and has not used yet. */
  readonly nonceIssued: (nonce: string) => boolean;
  /** The node's clock, for the change's validity window. */
  readonly now: Date;
}

/** The verified recovery approval. */
export interface VerifiedRecovery {
  readonly change: ChangeOf<"recovery">;
  /** Sequence of the recovery entry. */
  readonly sequence: number;
  /** Hex hash of the recovery entry. */
  readonly hash: string;
  readonly approvedBy: ApprovalProgress["approvedBy"];
}

/**
 * Check a recovery approval: the chain from the pinned anchor (every entry's approvals under the rules
 * in force there), that it still contains the pinned head (no rollback below what the node knew), and
 * the last entry — a `recovery` change placed right after the verified prefix, inside its validity
 * window, approved by enough current owners, naming this node, this disk and an unused nonce of this
 * boot.
 *
 * Errors: `AuditLogError` (`EMPTY_LOG`, `TOO_MANY_ENTRIES`, `ANCHOR_MISMATCH`, `CHAIN_BROKEN`,
 * `ENTRY_INVALID`, `ROLLED_BACK`); `ChangeRejectedError` (`NOT_APPROVED`: the last entry is not a
 * recovery; `RECOVERY_TARGET_MISMATCH`; `RECOVERY_NONCE_INVALID`; and the rules' own codes such as
 * `STALE_CHANGE`, `CHANGE_EXPIRED`, `THRESHOLD_NOT_MET`); `ApprovalError` (`UNKNOWN_CREDENTIAL` — e.g.
 * a removed owner —, `CHALLENGE_MISMATCH`, `SIGNATURE_INVALID`, …).
 *
 * @example
 * const ok = await verifyRecoveryApproval({ entries, pin: { anchor, head }, node: "cp-0", disk: uuid,
 *   nonceIssued: (n) => issued.has(n), now: new Date() });
 */
export async function verifyRecoveryApproval(check: RecoveryApprovalCheck): Promise<VerifiedRecovery> {
  const action = "Recovery approval refused";
  const entries = check.entries;
  if (entries.length < 2)
    throw new AuditLogError("EMPTY_LOG", action, {
      expected: "the audit log from genesis and a recovery entry",
      actual: `${entries.length} entries`,
    });
  if (entries.length > MAX_RECOVERY_ENTRIES)
    throw new AuditLogError("TOO_MANY_ENTRIES", action, {
      expected: `at most ${MAX_RECOVERY_ENTRIES} entries`,
      actual: String(entries.length),
    });
  const last = entries[entries.length - 1] as AuditEntry;
  if (last.change.kind !== "recovery")
    throw new ChangeRejectedError("NOT_APPROVED", action, {
      expected: "a recovery change as the last entry",
      actual: last.change.kind,
    });
  const change = last.change;
  // The prefix is history: its entries are replayed without a clock, as every verifier does.
  const prefix = await verifyAuditLog(entries.slice(0, -1), { anchor: check.pin.anchor });
  const head = check.pin.head;
  if (head !== undefined && prefix.hashes[head.sequence] !== head.hash)
    throw new AuditLogError("ROLLED_BACK", action, {
      expected: `the log to contain entry ${head.sequence} ${head.hash}, which this node knew`,
      actual:
        prefix.hashes[head.sequence] === undefined
          ? `${prefix.hashes.length} entries`
          : `entry ${head.sequence} ${prefix.hashes[head.sequence]}`,
    });
  // The recovery entry is new: its placement, window and approvals are checked now, with their own codes.
  const progress = await evaluateApprovals(prefix.state, change, last.approvals, { now: check.now });
  if (progress.approvedBy.length < progress.required)
    throw new ChangeRejectedError("THRESHOLD_NOT_MET", action, {
      expected: `${progress.required} owner(s)`,
      actual: `${progress.approvedBy.length} (${progress.approvedBy.join(", ") || "none"})`,
    });
  if (change.payload.node !== check.node || change.payload.disk !== check.disk)
    throw new ChangeRejectedError("RECOVERY_TARGET_MISMATCH", `${action}: approved for another node`, {
      expected: `node ${check.node}, disk ${check.disk}`,
      actual: `node ${change.payload.node}, disk ${change.payload.disk}`,
    });
  if (!check.nonceIssued(change.payload.nonce))
    throw new ChangeRejectedError("RECOVERY_NONCE_INVALID", `${action}: not for this request`, {
      expected: "a nonce this node issued during this boot and has not used",
      actual: `${change.payload.nonce.slice(0, 16)}…`,
    });
  return { change, sequence: change.sequence, hash: auditEntryHash(last), approvedBy: progress.approvedBy };
}
