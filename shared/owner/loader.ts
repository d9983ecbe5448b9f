/**
 * The approved-state loader services use (JoinService, KMS): reads the audit log from cluster state,
 * verifies it from the pinned anchor, and hands out only what the owners approved.
 *
 * Refusals are loud and do not change what is in force:
 * - a log that does not verify, or that no longer extends the one verified before (rewritten,
 *   truncated to roll back a policy), is refused: an error line with its code, `onRefused`, and the
 *   last verified state stays in force (with none yet, `load` throws — services fail closed);
 * - a policy object edited in cluster state without an approval (`POLICY_NOT_APPROVED`) is refused the
 *   same way; the approved policy from the log is what `load` returns.
 *
 * Within one process a rollback is caught; across a restart the loader cannot tell a truncated log from
 * an old one — compare the head it logs (`owner.audit-log.head`) with `asterism audit verify`.
 */
import type { AttestationPolicy } from "@asterism/attestation";
import { bytesEqual } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import type { Logger } from "@asterism/service";
import type { ClusterState } from "@asterism/state";
import type { ApprovedPolicy, ApprovedState } from "./approved-state.ts";
import { type AuditEntry, auditEntryHash, type VerifiedLog, verifyAuditLog } from "./audit-log.ts";
import { canonicalJsonBytes } from "./canonical-json.ts";
import { AuditLogError } from "./errors.ts";
import { samePolicy } from "./policy-compare.ts";
import { OwnerStore, POLICY_OBJECT } from "./store.ts";

/** Options of {@link createApprovedStateLoader}. */
export interface ApprovedStateLoaderOptions {
  readonly state: ClusterState;
  /**
   * Hex hash of the genesis entry, pinned out of band (service configuration written at init, not read
   * from cluster state: whoever can write that state must not be able to choose the owners).
   */
  readonly anchor: string;
  /** The cluster's ID (hex); the log must be for it. */
  readonly clusterId?: string;
  readonly logger: Logger;
  /** Called once per refusal episode (a standing refusal is not repeated every poll), e.g. for a metric. */
  readonly onRefused?: (error: AuditLogError) => void;
}

/** The result of one load. */
export interface LoadedApprovals {
  /** What the owners approved, from the last log that verified. */
  readonly state: ApprovedState;
  readonly policy: ApprovedPolicy | undefined;
  /** What this load refused (empty when everything in state agrees with the log). */
  readonly refused: readonly AuditLogError[];
}

/** Options of one load. */
export interface LoadOptions {
  /**
   * A policy copy the caller keeps in an object of its own (the JoinService's join configuration); it
   * is compared with the approved policy and refused (`POLICY_NOT_APPROVED`) when it differs.
   */
  readonly stored?: { readonly object: string; readonly policy: AttestationPolicy };
}

/** A loader keeping the last verified log in memory. */
export interface ApprovedStateLoader {
  /** Read and verify; throws only when nothing verified has ever been loaded. */
  load(opts?: LoadOptions): Promise<LoadedApprovals>;
  /** {@link load}, then the approved policy or `NO_APPROVED_POLICY`. */
  loadPolicy(): Promise<ApprovedPolicy>;
}

/**
 * Create the loader.
 *
 * @example
 * const loader = createApprovedStateLoader({ state, anchor: config.ownerAnchor, logger });
 * const { policy } = await loader.loadPolicy(); // AttestationPolicy the owners approved
 */
export function createApprovedStateLoader(opts: ApprovedStateLoaderOptions): ApprovedStateLoader {
  const store = new OwnerStore(opts.state);
  const log = opts.logger.child({ component: "owner-approvals" });
  let last: VerifiedLog | undefined;
  // Refusals reported by the previous load: a standing refusal is logged (and counted) once, when it
  // starts, not on every poll; it is reported again if it clears and comes back.
  let reported = new Set<string>();

  const load = async (loadOpts: LoadOptions = {}): Promise<LoadedApprovals> => {
    const refused: { err: AuditLogError; fields: Record<string, string | number> }[] = [];
    try {
      const entries = await store.readEntries();
      if (last && !extendsLog(last, entries)) {
        throw new AuditLogError("CHAIN_BROKEN", "Audit log no longer extends the verified one", {
          expected: `head ${last.state.head.sequence} ${last.state.head.hash}`,
          actual: `${entries.length} entries`,
        });
      }
      const verified = await verifyAuditLog(entries, {
        anchor: opts.anchor,
        ...(opts.clusterId === undefined ? {} : { clusterId: opts.clusterId }),
        ...(last ? { resume: last } : {}),
      });
      if (verified.state.head.hash !== last?.state.head.hash)
        log.log("info", "owner.audit-log.head", {
          sequence: verified.state.head.sequence,
          hash: verified.state.head.hash,
        });
      last = verified;
    } catch (cause) {
      const err =
        cause instanceof AuditLogError
          ? cause
          : new AuditLogError("ENTRY_INVALID", "Audit log could not be read", {
              actual: isAsterismError(cause) ? cause.code : "unreadable",
              cause,
            });
      if (!last) {
        report([{ err, fields: {} }]);
        throw err;
      }
      refused.push({ err, fields: { keptSequence: last.state.head.sequence } });
    }
    const state = (last as VerifiedLog).state;
    const approvedSequence = state.policy?.sequence ?? -1;
    const published = await store.publishedPolicy().catch(() => undefined);
    if (
      published !== undefined &&
      !(state.policy && bytesEqual(published, canonicalJsonBytes(state.policy.json)))
    ) {
      refused.push({
        err: notApproved(POLICY_OBJECT, state.policy),
        fields: { object: POLICY_OBJECT, approvedSequence },
      });
    }
    const stored = loadOpts.stored;
    if (stored && !(state.policy && samePolicy(stored.policy, state.policy.policy))) {
      refused.push({
        err: notApproved(stored.object, state.policy),
        fields: { object: stored.object, approvedSequence },
      });
    }
    report(refused);
    return { state, policy: state.policy, refused: refused.map((r) => r.err) };
  };

  function report(refusals: { err: AuditLogError; fields: Record<string, string | number> }[]): void {
    const now = new Set<string>();
    for (const { err, fields } of refusals) {
      const key = `${err.code}|${err.message}|${JSON.stringify(fields)}`;
      now.add(key);
      if (reported.has(key)) continue;
      log.log("error", "owner: refused unapproved state; the last approved state stays in force", {
        code: err.code,
        error: err.message,
        ...fields,
      });
      opts.onRefused?.(err);
    }
    reported = now;
  }

  return {
    load,
    async loadPolicy() {
      const { policy, state } = await load();
      if (!policy)
        throw new AuditLogError("NO_APPROVED_POLICY", "No attestation policy approved yet", {
          expected: "an approved attestation-policy entry",
          actual: `log head ${state.head.sequence}`,
        });
      return policy;
    },
  };
}

function notApproved(object: string, approved: ApprovedPolicy | undefined): AuditLogError {
  return new AuditLogError("POLICY_NOT_APPROVED", `Policy in ${object} was changed without owner approval`, {
    expected: approved ? `the policy approved in audit entry ${approved.sequence}` : "no policy yet",
    actual: "a different policy",
  });
}

/** Does the log still start with every entry verified before? */
function extendsLog(last: VerifiedLog, entries: readonly AuditEntry[]): boolean {
  if (entries.length < last.hashes.length) return false;
  return last.hashes.every((h, i) => auditEntryHash(entries[i] as AuditEntry) === h);
}
