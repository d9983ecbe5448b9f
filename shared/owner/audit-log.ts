/**
 * The audit log: one entry per approved change, hash-chained and signed by the owners themselves.
 *
 * Entry `n` is `{format, change, approvals}` in canonical JSON; its hash is SHA-256 of those bytes.
 * `change.previous` of entry `n+1` is the hash of entry `n`, and the owners' passkeys sign the digest
 * of `change` — so every approval also signs the whole history before it. No service key is involved:
 * a key living in the cluster is exactly what the log must not depend on. Anyone holding the entries
 * and the genesis hash (the anchor printed at enrollment) can verify the log offline.
 *
 * What a verifier learns: the sequence of changes the owners approved, who approved each, and the state
 * in force now. What it cannot learn from the log alone: that no later entry was withheld (a truncated
 * log verifies — compare the head with a service's), and when an entry was appended (approval times are
 * not signed by anyone trustworthy; `createdAt`/`expiresAt` bound when owners could sign it).
 */
import { createHash } from "node:crypto";
import { toHex } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import * as v from "valibot";
import { type Approval, ApprovalSchema } from "./approval.ts";
import { type ApprovedState, applyChange } from "./approved-state.ts";
import { canonicalJsonBytes, parseCanonicalJson } from "./canonical-json.ts";
import { type Change, parseChangeValue } from "./change.ts";
import { AuditLogError } from "./errors.ts";
import { checkApprovals, type EvaluateOptions } from "./rules.ts";
import { parseWith } from "./schemas.ts";

/** Format tag of an audit entry. */
export const AUDIT_ENTRY_FORMAT = "asterism.audit-entry/v1";
/** Largest canonical entry (a change plus up to 64 approvals of ~1.5 KiB). */
export const MAX_AUDIT_ENTRY_BYTES = 512 * 1024;
/** Most entries a verifier reads; years of weekly changes fit many times over. */
export const MAX_AUDIT_ENTRIES = 10_000;
/** Most approvals on one entry: every passkey of every owner. */
export const MAX_APPROVALS = 128;

/** One audit entry. */
export interface AuditEntry {
  readonly format: typeof AUDIT_ENTRY_FORMAT;
  readonly change: Change;
  readonly approvals: readonly Approval[];
}

const AuditEntrySchema = v.strictObject({
  format: v.literal(AUDIT_ENTRY_FORMAT),
  change: v.unknown(),
  approvals: v.pipe(v.array(ApprovalSchema), v.minLength(1), v.maxLength(MAX_APPROVALS)),
});

/** Validate an untrusted value as an audit entry (shape only). */
export function parseAuditEntryValue(value: unknown): AuditEntry {
  const e = parseWith(AuditEntrySchema, value, "audit entry");
  return { format: AUDIT_ENTRY_FORMAT, change: parseChangeValue(e.change), approvals: e.approvals };
}

/** Parse canonical entry bytes (as stored). */
export function parseAuditEntry(bytes: Uint8Array): AuditEntry {
  return parseAuditEntryValue(parseCanonicalJson(bytes, MAX_AUDIT_ENTRY_BYTES, "audit entry"));
}

/** The canonical bytes of an entry. */
export function serializeAuditEntry(entry: AuditEntry): Uint8Array {
  return canonicalJsonBytes({ format: entry.format, change: entry.change, approvals: entry.approvals });
}

/** Hex SHA-256 of the entry's canonical bytes: what the next change's `previous` names. */
export function auditEntryHash(entry: AuditEntry): string {
  return toHex(new Uint8Array(createHash("sha256").update(serializeAuditEntry(entry)).digest()));
}

/** Build an entry for an approved change. */
export function createAuditEntry(change: Change, approvals: readonly Approval[]): AuditEntry {
  return { format: AUDIT_ENTRY_FORMAT, change, approvals: [...approvals] };
}

/** Apply one entry to the state after checking its approvals under the owners' rules. */
export async function applyAuditEntry(
  state: ApprovedState | undefined,
  entry: AuditEntry,
  opts: EvaluateOptions = {},
): Promise<ApprovedState> {
  const progress = await checkApprovals(state, entry.change, entry.approvals, opts);
  return applyChange(state, entry.change, auditEntryHash(entry), progress.counters);
}

/** A verified prefix of a log, to resume from when the log has grown. */
export interface VerifiedLog {
  readonly state: ApprovedState;
  /** Hash of every verified entry, by sequence. */
  readonly hashes: readonly string[];
}

/** Options of {@link verifyAuditLog}. */
export interface VerifyAuditLogOptions {
  /** The pinned genesis hash (hex). Without it a verifier only learns the log is self-consistent. */
  readonly anchor?: string;
  /** The cluster the log must be for (hex cluster ID). */
  readonly clusterId?: string;
  /** A previous result for a prefix of these entries; verification resumes after it if still a prefix. */
  readonly resume?: VerifiedLog;
}

/**
 * Verify a whole log from genesis: the chain links, every entry's approvals under the rules in force
 * at that entry (owners, threshold, counters), and the anchor. Returns the state in force.
 *
 * @example
 * const { state } = await verifyAuditLog(entries, { anchor: pinnedGenesisHash });
 * state.policy?.policy; // the attestation policy the owners approved last
 */
export async function verifyAuditLog(
  entries: readonly AuditEntry[],
  opts: VerifyAuditLogOptions = {},
): Promise<VerifiedLog> {
  if (entries.length === 0)
    throw new AuditLogError("EMPTY_LOG", "Cannot verify audit log", { expected: "a genesis entry" });
  if (entries.length > MAX_AUDIT_ENTRIES)
    throw new AuditLogError("TOO_MANY_ENTRIES", "Cannot verify audit log", {
      expected: `at most ${MAX_AUDIT_ENTRIES} entries`,
      actual: String(entries.length),
    });
  const hashes = entries.map(auditEntryHash);
  const genesisHash = hashes[0] as string;
  if (opts.anchor !== undefined && genesisHash !== opts.anchor.toLowerCase()) {
    throw new AuditLogError("ANCHOR_MISMATCH", "Audit log is not the pinned one", {
      expected: `genesis ${opts.anchor}`,
      actual: `genesis ${genesisHash}`,
    });
  }
  let state: ApprovedState | undefined;
  let start = 0;
  const resume = opts.resume;
  if (resume && resume.hashes.length <= hashes.length && resume.hashes.every((h, i) => h === hashes[i])) {
    state = resume.state;
    start = resume.hashes.length;
  }
  for (let i = start; i < entries.length; i++) {
    const entry = entries[i] as AuditEntry;
    const expectedPrevious = i === 0 ? undefined : hashes[i - 1];
    if (
      entry.change.sequence !== i ||
      (expectedPrevious !== undefined && entry.change.previous !== expectedPrevious)
    ) {
      throw new AuditLogError(
        "CHAIN_BROKEN",
        i === 0
          ? "Audit log does not start with its genesis"
          : `Audit log entry ${i} does not follow entry ${i - 1}`,
        {
          expected: `sequence ${i}${expectedPrevious ? `, previous ${expectedPrevious}` : ""}`,
          actual: `sequence ${entry.change.sequence}, previous ${entry.change.previous}`,
        },
      );
    }
    try {
      state = await applyAuditEntry(state, entry);
    } catch (cause) {
      const inner = isAsterismError(cause) ? `${cause.code}: ${cause.message}` : String(cause);
      throw new AuditLogError(
        "ENTRY_INVALID",
        `Audit log entry ${i} (${entry.change.kind}) does not verify`,
        {
          actual: inner.slice(0, 300),
          cause,
        },
      );
    }
  }
  const final = state as ApprovedState;
  if (opts.clusterId !== undefined && final.clusterId !== opts.clusterId.toLowerCase()) {
    throw new AuditLogError("ANCHOR_MISMATCH", "Audit log is for another cluster", {
      expected: opts.clusterId,
      actual: final.clusterId,
    });
  }
  return { state: final, hashes };
}
