/**
 * Persistence of the owner data in cluster state (@asterism/state: Kubernetes ConfigMaps, or SQLite for
 * the local cluster). Nothing stored here is trusted on read: entries are re-verified from the anchor,
 * pending approvals are re-verified before they count, and the published policy object is only a copy
 * that the loader compares against the log.
 *
 * Objects (all `config` kind, labelled `asterism.dev/owner`):
 * - `asterism-audit-<10-digit sequence>`: one audit entry (`entry.json`, canonical JSON). Creation is
 *   first-writer-wins, so two committers cannot both append entry n.
 * - `asterism-change-<40 hex of the digest>`: a proposed change (`change.json`) and the approvals
 *   collected so far (`approvals.json`), updated by compare-and-swap.
 * - `asterism-attestation-policy`: the approved policy (`policy.json`) for readers that do not verify
 *   the log themselves; the loader refuses it loudly when it differs from the log.
 */
import { toHex } from "@asterism/bytes";
import { type ClusterState, StateError, type StoredObject } from "@asterism/state";
import * as v from "valibot";
import { type Approval, ApprovalSchema } from "./approval.ts";
import {
  type AuditEntry,
  applyAuditEntry,
  auditEntryHash,
  createAuditEntry,
  MAX_APPROVALS,
  MAX_AUDIT_ENTRIES,
  parseAuditEntry,
  serializeAuditEntry,
  type VerifiedLog,
  verifyAuditLog,
} from "./audit-log.ts";
import { canonicalJsonBytes, parseCanonicalJson } from "./canonical-json.ts";
import { type Change, changeDigest, type PolicyJson, parseChange, serializeChange } from "./change.ts";
import { AuditLogError, ChangeRejectedError, OwnerParseError } from "./errors.ts";
import { type ApprovalProgress, evaluateApprovals } from "./rules.ts";
import { parseWith } from "./schemas.ts";

/** Label on every owner object; its value says which kind. */
export const OWNER_LABEL = "asterism.dev/owner";
/** The published copy of the approved attestation policy. */
export const POLICY_OBJECT = "asterism-attestation-policy";
/** Data key of the policy in {@link POLICY_OBJECT}: canonical JSON of the approved policy. */
export const POLICY_KEY = "policy.json";

const ENTRY_PREFIX = "asterism-audit-";
const PENDING_PREFIX = "asterism-change-";
/**
 * Pending changes read at most: anyone who can write cluster state can propose, so a flood must not
 * grow every page and command without bound. The lowest sequences (the ones that can still apply) win.
 */
export const MAX_PENDING_LISTED = 64;
/** Compare-and-swap retries when two approvals land at once. */
const CAS_ATTEMPTS = 5;

/** Object name of audit entry `sequence`. */
export function auditEntryName(sequence: number): string {
  return `${ENTRY_PREFIX}${String(sequence).padStart(10, "0")}`;
}

/** Object name of a pending change. */
export function pendingChangeName(digestHex: string): string {
  return `${PENDING_PREFIX}${digestHex.slice(0, 40)}`;
}

/** A proposed change and the approvals collected so far (unverified until evaluated). */
export interface PendingChange {
  readonly change: Change;
  /** Hex digest of the change (its identity and WebAuthn challenge). */
  readonly digest: string;
  readonly approvals: readonly Approval[];
  readonly version: string;
}

/** A pending object that could not be read (shown to owners; never approved). */
export interface UnreadablePending {
  readonly name: string;
  readonly code: string;
}

/** The result of adding an approval. */
export interface ApproveResult {
  readonly progress: ApprovalProgress;
  /** Set when this approval completed the change and it was appended to the log. */
  readonly committed?: { readonly sequence: number; readonly hash: string };
}

const ApprovalsSchema = v.pipe(v.array(ApprovalSchema), v.maxLength(MAX_APPROVALS));

/** Owner data on a {@link ClusterState}. */
export class OwnerStore {
  constructor(private readonly state: ClusterState) {}

  /** Every stored audit entry, in sequence order (parsed, not verified). */
  async readEntries(): Promise<AuditEntry[]> {
    const objects = await this.state.list("config", { [OWNER_LABEL]: "audit-entry" });
    if (objects.length > MAX_AUDIT_ENTRIES)
      throw new AuditLogError("TOO_MANY_ENTRIES", "Cannot read audit log", {
        expected: `at most ${MAX_AUDIT_ENTRIES} entries`,
        actual: String(objects.length),
      });
    const entries = objects
      .filter((o) => o.name.startsWith(ENTRY_PREFIX))
      .map((o) => {
        const entry = parseAuditEntry(dataOf(o, "entry.json"));
        if (o.name !== auditEntryName(entry.change.sequence))
          throw new AuditLogError("CHAIN_BROKEN", `Audit entry object ${o.name} holds another entry`, {
            expected: o.name,
            actual: auditEntryName(entry.change.sequence),
          });
        return entry;
      });
    return entries.sort((a, b) => a.change.sequence - b.change.sequence);
  }

  /** Read and verify the log; undefined when there is none yet (before genesis). */
  async verifiedLog(opts: { anchor?: string; resume?: VerifiedLog } = {}): Promise<VerifiedLog | undefined> {
    const entries = await this.readEntries();
    if (entries.length === 0) {
      if (opts.anchor !== undefined)
        throw new AuditLogError("EMPTY_LOG", "Cannot verify audit log", {
          expected: `genesis ${opts.anchor}`,
        });
      return undefined;
    }
    return verifyAuditLog(entries, opts);
  }

  /** Store a proposed change (idempotent: the same change proposed twice is one pending object). */
  async propose(change: Change): Promise<PendingChange> {
    const digest = toHex(changeDigest(change));
    const name = pendingChangeName(digest);
    try {
      const o = await this.state.create(
        "config",
        name,
        { "change.json": serializeChange(change), "approvals.json": canonicalJsonBytes([]) },
        { [OWNER_LABEL]: "pending-change" },
      );
      return { change, digest, approvals: [], version: o.version };
    } catch (err) {
      if (err instanceof StateError && err.code === "ALREADY_EXISTS") {
        const existing = await this.getPending(digest);
        if (existing) return existing;
      }
      throw err;
    }
  }

  /** Read one pending change by digest (hex). */
  async getPending(digest: string): Promise<PendingChange | undefined> {
    const o = await this.state.get("config", pendingChangeName(digest));
    if (!o) return undefined;
    const p = readPending(o);
    if (p.digest !== digest)
      throw new OwnerParseError("INVALID_SCHEMA", `Pending change ${o.name} holds another change`, {
        expected: digest,
        actual: p.digest,
      });
    return p;
  }

  /**
   * Pending changes (at most {@link MAX_PENDING_LISTED}; `omitted` counts the rest), plus the objects that
   * could not be read (reported, never approved).
   */
  async listPending(): Promise<{
    pending: PendingChange[];
    unreadable: UnreadablePending[];
    omitted: number;
  }> {
    const objects = await this.state.list("config", { [OWNER_LABEL]: "pending-change" });
    const pending: PendingChange[] = [];
    const unreadable: UnreadablePending[] = [];
    for (const o of objects) {
      try {
        const p = readPending(o);
        if (pendingChangeName(p.digest) !== o.name)
          throw new OwnerParseError("INVALID_SCHEMA", "Misnamed pending change");
        pending.push(p);
      } catch (err) {
        unreadable.push({ name: o.name, code: err instanceof OwnerParseError ? err.code : "INVALID" });
      }
    }
    pending.sort(
      (a, b) => a.change.sequence - b.change.sequence || a.change.createdAt.localeCompare(b.change.createdAt),
    );
    const over = (n: number) => Math.max(0, n - MAX_PENDING_LISTED);
    return {
      pending: pending.slice(0, MAX_PENDING_LISTED),
      unreadable: unreadable.slice(0, MAX_PENDING_LISTED),
      omitted: over(pending.length) + over(unreadable.length),
    };
  }

  /** Drop a pending change (stale, or rejected by the owners). */
  async discard(digest: string): Promise<void> {
    await this.state.delete("config", pendingChangeName(digest));
  }

  /**
   * Add an owner's approval to a pending change. Every approval collected so far is verified again
   * together with the new one against the verified log; an invalid approval is refused and not stored.
   * When the change is complete it is appended to the log at once (and the policy copy published).
   */
  async approve(
    digest: string,
    approval: Approval,
    opts: { now: Date; anchor?: string; log?: VerifiedLog },
  ): Promise<ApproveResult> {
    for (let attempt = 0; ; attempt++) {
      const log =
        opts.log ?? (await this.verifiedLog(opts.anchor === undefined ? {} : { anchor: opts.anchor }));
      const pending = await this.getPending(digest);
      if (!pending)
        throw new ChangeRejectedError("STALE_CHANGE", "Cannot approve change", {
          expected: `pending change ${digest.slice(0, 16)}…`,
          actual: "none (committed or discarded)",
        });
      const approvals = [
        ...pending.approvals.filter((a) => a.credentialId !== approval.credentialId),
        approval,
      ];
      const progress = await evaluateApprovals(log?.state, pending.change, approvals, { now: opts.now });
      try {
        await this.state.update(
          "config",
          pendingChangeName(digest),
          { "change.json": serializeChange(pending.change), "approvals.json": canonicalJsonBytes(approvals) },
          pending.version,
        );
      } catch (err) {
        if (err instanceof StateError && err.code === "CONFLICT" && attempt + 1 < CAS_ATTEMPTS) continue;
        throw err;
      }
      if (!progress.complete) return { progress };
      const committed = await this.commit(createAuditEntry(pending.change, approvals), log?.state, opts.now);
      await this.state.delete("config", pendingChangeName(digest)).catch(() => undefined);
      return { progress, committed };
    }
  }

  /**
   * Append a fully approved entry (checked again here) as the next object of the log, and publish the
   * policy copy when the entry approves a policy. Fails with `STALE_CHANGE` if another entry got there first.
   */
  async commit(
    entry: AuditEntry,
    current: VerifiedLog["state"] | undefined,
    now: Date,
  ): Promise<{ sequence: number; hash: string }> {
    await applyAuditEntry(current, entry, { now });
    const sequence = entry.change.sequence;
    try {
      await this.state.create(
        "config",
        auditEntryName(sequence),
        { "entry.json": serializeAuditEntry(entry) },
        { [OWNER_LABEL]: "audit-entry" },
      );
    } catch (err) {
      if (err instanceof StateError && err.code === "ALREADY_EXISTS")
        throw new ChangeRejectedError("STALE_CHANGE", `Cannot append audit entry ${sequence}`, {
          expected: "a free slot",
          actual: "another entry was appended first",
        });
      throw err;
    }
    if (entry.change.kind === "attestation-policy") await this.publishPolicy(entry.change.payload.policy);
    return { sequence, hash: auditEntryHash(entry) };
  }

  /**
   * Copy a verified log into this state (the log the owners built before the cluster state existed, at
   * `asterism init --owner`, or a saved copy). The whole log is verified from `anchor` first, as history
   * (no clock: entries stay valid after their changes expired); entries already stored must be the same
   * entries (else `CHAIN_BROKEN`); the missing ones are created in order, and the policy copy published.
   * Idempotent: importing the same log again imports nothing.
   */
  async importLog(entries: readonly AuditEntry[], opts: { anchor: string }): Promise<{ imported: number }> {
    const verified = await verifyAuditLog(entries, { anchor: opts.anchor });
    const existing = await this.readEntries();
    for (const [i, e] of existing.entries()) {
      if (i >= entries.length) break;
      if (auditEntryHash(e) !== verified.hashes[i])
        throw new AuditLogError("CHAIN_BROKEN", `Cluster state holds another audit entry ${i}`, {
          expected: verified.hashes[i],
          actual: auditEntryHash(e),
        });
    }
    let imported = 0;
    for (const entry of entries.slice(existing.length)) {
      try {
        await this.state.create(
          "config",
          auditEntryName(entry.change.sequence),
          { "entry.json": serializeAuditEntry(entry) },
          { [OWNER_LABEL]: "audit-entry" },
        );
      } catch (err) {
        if (err instanceof StateError && err.code === "ALREADY_EXISTS")
          throw new ChangeRejectedError(
            "STALE_CHANGE",
            `Cannot import audit entry ${entry.change.sequence}`,
            {
              expected: "a free slot",
              actual: "another entry was appended meanwhile",
            },
          );
        throw err;
      }
      imported++;
    }
    const policy = verified.state.policy;
    if (imported > 0 && policy) await this.publishPolicy(policy.json);
    return { imported };
  }

  /** The published policy object's bytes, if any (untrusted: compare against the log). */
  async publishedPolicy(): Promise<Uint8Array | undefined> {
    const o = await this.state.get("config", POLICY_OBJECT);
    return o?.data[POLICY_KEY];
  }

  private async publishPolicy(policy: PolicyJson): Promise<void> {
    const data = { [POLICY_KEY]: canonicalJsonBytes(policy) };
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const existing = await this.state.get("config", POLICY_OBJECT);
      try {
        if (existing) await this.state.update("config", POLICY_OBJECT, data, existing.version);
        else await this.state.create("config", POLICY_OBJECT, data, { [OWNER_LABEL]: "policy" });
        return;
      } catch (err) {
        if (!(err instanceof StateError) || (err.code !== "CONFLICT" && err.code !== "ALREADY_EXISTS"))
          throw err;
      }
    }
  }
}

function dataOf(o: StoredObject, key: string): Uint8Array {
  const d = o.data[key];
  if (!d)
    throw new OwnerParseError("INVALID_SCHEMA", `Cannot read ${o.name}`, {
      expected: `data key ${key}`,
      actual: "missing",
    });
  return d;
}

function readPending(o: StoredObject): PendingChange {
  const change = parseChange(dataOf(o, "change.json"));
  const approvals = parseWith(
    ApprovalsSchema,
    parseCanonicalJson(dataOf(o, "approvals.json"), 256 * 1024, "pending approvals"),
    "pending approvals",
  );
  return { change, digest: toHex(changeDigest(change)), approvals, version: o.version };
}
