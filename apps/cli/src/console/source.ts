/**
 * Where the console reads a cluster from. One interface, so the pages do not care whether the data comes
 * from a cluster-state file (the local cluster, today), the Kubernetes API through @asterism/state, or
 * the services' endpoints later.
 */
import { fromUtf8 } from "@asterism/bytes";
import {
  type AuditEntry,
  canonicalJsonBytes,
  OwnerStore,
  type VerifiedLog,
  verifyAuditLog,
} from "@asterism/owner";
import type { ClusterState } from "@asterism/state";
import * as v from "valibot";

/** Label and data key of the per-node record the JoinService keeps (one config object per node). */
export const NODE_RECORD_LABEL = { "asterism.dev/node": "record" } as const;
export const NODE_RECORD_KEY = "node.json";
/** Label of the JoinService's disk-ownership objects (name, role, join time of every node). */
const DISK_OWNER_LABEL = { "asterism.dev/disk-owner": "true" } as const;

/** A node's last attestation as the JoinService recorded it. */
export const NodeRecordSchema = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(253)),
  role: v.picklist(["control-plane", "worker"]),
  variant: v.pipe(v.string(), v.maxLength(64)),
  lastAttestation: v.optional(
    v.strictObject({
      at: v.pipe(v.string(), v.isoTimestamp()),
      /** EAR status (draft-ietf-rats-ear): affirming, warning (warn-only mismatches), contraindicated, none. */
      status: v.picklist(["affirming", "warning", "contraindicated", "none"]),
      warnings: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(200))), v.maxLength(32))),
    }),
  ),
});
export type NodeRecord = v.InferOutput<typeof NodeRecordSchema>;

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
        const raw = o.data[NODE_RECORD_KEY];
        if (!raw) continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(fromUtf8(raw));
        } catch {
          continue;
        }
        const r = v.safeParse(NodeRecordSchema, parsed);
        if (!r.success) continue;
        const prev = byName.get(r.output.name);
        byName.set(r.output.name, {
          name: r.output.name,
          role: r.output.role,
          variant: r.output.variant,
          joinedAt: prev?.joinedAt,
          lastAttestation: r.output.lastAttestation,
        });
      }
      return [...byName.values()].sort(
        (a, b) => a.role.localeCompare(b.role) || a.name.localeCompare(b.name),
      );
    },
  };
}
