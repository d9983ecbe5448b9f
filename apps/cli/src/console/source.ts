/**
 * Where the console reads a cluster from. One interface, so the pages do not care whether the data comes
 * from a cluster-state file (the local cluster, today), the Kubernetes API through @asterism/state, or
 * the services' endpoints later.
 */
import { fromUtf8 } from "@asterism/bytes";
import { NODE_RECORD_LABEL, type NodeRecord, parseNodeRecord } from "@asterism/lifecycle";
import {
  type AuditEntry,
  canonicalJsonBytes,
  OwnerStore,
  type VerifiedLog,
  verifyAuditLog,
} from "@asterism/owner";
import type { ClusterState } from "@asterism/state";

/** Label of the JoinService's disk-ownership objects (name, role, join time of every node). */
const DISK_OWNER_LABEL = { "asterism.dev/disk-owner": "true" } as const;

/** A node as the overview shows it. */
export interface NodeView {
  readonly name: string;
  readonly role: string;
  readonly variant: string | undefined;
  readonly joinedAt: string | undefined;
  readonly lastAttestation: NodeRecord["lastAttestation"];
}

/** The approvals as the console shows them: the verified log, or why it is refused. */
export interface ApprovalsView {
  /** Undefined before genesis, or when the log does not verify (then `error` says why). */
  readonly log: VerifiedLog | undefined;
  readonly entries: readonly AuditEntry[];
  readonly error: Error | undefined;
  /** The pinned anchor, when the console was given one. */
  readonly anchor: string | undefined;
  /** True when the published policy object differs from the approved one (edited without approval). */
  readonly policyObjectTampered: boolean;
}

/** What the console needs from a cluster. */
export interface ConsoleSource {
  approvals(): Promise<ApprovalsView>;
  nodes(): Promise<NodeView[]>;
  /** Pending changes, approvals and commits. */
  readonly store: OwnerStore;
}

/** A source over cluster state (a SQLite state file, or Kubernetes through @asterism/state). */
export function stateSource(state: ClusterState, opts: { anchor?: string } = {}): ConsoleSource {
  const store = new OwnerStore(state);
  return {
    store,
    async approvals() {
      let entries: AuditEntry[] = [];
      let log: VerifiedLog | undefined;
      let error: Error | undefined;
      try {
        entries = await store.readEntries();
        if (entries.length > 0)
          log = await verifyAuditLog(entries, opts.anchor ? { anchor: opts.anchor } : {});
      } catch (err) {
        error = err instanceof Error ? err : new Error(String(err));
      }
      const published = await store.publishedPolicy().catch(() => undefined);
      const approved = log?.state.policy ? canonicalJsonBytes(log.state.policy.json) : undefined;
      const policyObjectTampered =
        published !== undefined && (approved === undefined || fromUtf8(published) !== fromUtf8(approved));
      return {
        log,
        entries,
        error,
        anchor: opts.anchor,
        policyObjectTampered,
      };
    },
    async nodes() {
      const byName = new Map<string, NodeView>();
      for (const o of await state.list("config", DISK_OWNER_LABEL)) {
        const name = o.data["nodeName"] ? fromUtf8(o.data["nodeName"]) : undefined;
        if (!name) continue;
        byName.set(name, {
          name,
          role: o.data["role"] ? fromUtf8(o.data["role"]) : "unknown",
          variant: undefined,
          joinedAt: o.data["createdAt"] ? fromUtf8(o.data["createdAt"]) : undefined,
          lastAttestation: undefined,
        });
      }
      for (const o of await state.list("config", NODE_RECORD_LABEL)) {
        const r = parseNodeRecord(o);
        if (!r) continue;
        byName.set(r.name, {
          name: r.name,
          role: r.role,
          variant: r.variant,
          joinedAt: byName.get(r.name)?.joinedAt,
          lastAttestation: r.lastAttestation,
        });
      }
      return [...byName.values()].sort(
        (a, b) => a.role.localeCompare(b.role) || a.name.localeCompare(b.name),
      );
    },
  };
}
