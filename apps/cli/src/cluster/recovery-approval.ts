/**
 * The CLI side of recovery approvals (docs/owner.md "Recovery"): a recovering control plane that
 * recorded cluster owners asks for their approval of a `recovery` change naming it, its disk and a
 * nonce it issued. The change is proposed to the owners' log — in the cluster state when it is
 * reachable (the local cluster's SQLite file), else in a copy built from the workspace's saved log —
 * the owners approve it on the local approval page, and the log up to that entry goes to the node.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RecoveryChallenge } from "@asterism/api";
import {
  type AuditEntry,
  AuditLogError,
  createChange,
  OwnerStore,
  parseAuditEntryValue,
  serializeAuditEntry,
} from "@asterism/owner";
import { type ClusterState, openSqliteState } from "@asterism/state";
import type { CliIo } from "../command.ts";
import { parseLogFile } from "../commands/audit/verify.ts";
import { type CeremonySettings, serveCeremony } from "../commands/owner/ceremony.ts";
import { stateSource } from "../console/source.ts";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { ClusterError } from "./errors.ts";
import { OWNER_LOG_FILE, writeOwnerLog } from "./owners.ts";

/** Where the owners' log is read from and the recovery change proposed. */
export type OwnerLogSource =
  | { readonly kind: "state"; readonly state: ClusterState }
  | { readonly kind: "file"; readonly path: string };

/** Options of {@link approveRecovery}. */
export interface ApproveRecoveryOptions {
  readonly io: CliIo;
  readonly settings: CeremonySettings;
  readonly challenge: RecoveryChallenge;
  /** The anchor the workspace pinned, if any: the node must have recorded the same. */
  readonly anchor: string | undefined;
  readonly source: OwnerLogSource;
  readonly reason: string;
  readonly ws: WorkspacePaths;
  readonly now: () => Date;
}

/** Read a saved log (`asterism audit export` format) into a fresh in-memory state. */
async function stateFromFile(path: string, anchor: string): Promise<ClusterState & { close(): void }> {
  const entries = parseLogFile(readFileSync(path, "utf8"), path).map((e) => parseAuditEntryValue(e));
  const state = openSqliteState(":memory:");
  try {
    await new OwnerStore(state).importLog(entries, { anchor });
    return state;
  } catch (err) {
    state.close();
    throw err;
  }
}

/** The workspace's saved log, if there is one. */
export function workspaceOwnerLog(ws: WorkspacePaths): string | undefined {
  const p = join(ws.dir, OWNER_LOG_FILE);
  return existsSync(p) ? p : undefined;
}

/**
 * Get the owners' approval for the recovery `challenge` names: propose the change, serve the approval
 * page until the owners have approved it, and return the log from genesis up to and including that
 * entry (JSON values, for `recoverNode`'s `ownerApproval`).
 */
export async function approveRecovery(
  o: ApproveRecoveryOptions,
): Promise<{ entries: unknown[]; sequence: number }> {
  const pin = o.challenge.owner;
  if (!pin) throw new Error("approveRecovery: the node needs no approval");
  if (o.anchor !== undefined && o.anchor !== pin.anchor)
    throw new AuditLogError("ANCHOR_MISMATCH", "The node recorded other cluster owners than this workspace", {
      expected: o.anchor,
      actual: pin.anchor,
    });
  const owned = o.source.kind === "file" ? await stateFromFile(o.source.path, pin.anchor) : undefined;
  const state = owned ?? (o.source as { state: ClusterState }).state;
  try {
    const store = new OwnerStore(state);
    const log = await store.verifiedLog({ anchor: pin.anchor });
    if (!log) throw new AuditLogError("EMPTY_LOG", "No owners' log to approve the recovery in");
    const change = createChange({
      clusterId: log.state.clusterId,
      head: log.state.head,
      kind: "recovery",
      payload: {
        node: o.challenge.node,
        disk: o.challenge.diskUuid,
        nonce: o.challenge.nonce,
        reason: o.reason,
      },
      now: o.now(),
      ttlSeconds: 2 * 3600,
      description: `Recover ${o.challenge.node} (disk ${o.challenge.diskUuid})`,
    });
    const pending = await store.propose(change);
    const event = await serveCeremony(o.io, o.settings, {
      mode: "approve",
      source: stateSource(state, { anchor: pin.anchor }),
      what: `approve the recovery of ${o.challenge.node} (change ${pending.digest.slice(0, 16)}…)`,
      until: (e) => e.kind === "committed" && e.changeKind === "recovery" && e.sequence === change.sequence,
    });
    if (event?.kind !== "committed")
      throw new ClusterError(
        "RECOVERY_NOT_APPROVED",
        `The owners did not approve the recovery of ${o.challenge.node}`,
        {
          expected: `change ${pending.digest} approved within ${o.settings.timeoutS} s`,
          actual: "stopped or timed out; nothing was sent to the node",
        },
      );
    const entries: AuditEntry[] = (await store.readEntries()).filter(
      (e) => e.change.sequence <= change.sequence,
    );
    // The workspace's copy now includes the approval (the cluster's own log does when it is reachable).
    if (o.source.kind === "file" && o.source.path === join(o.ws.dir, OWNER_LOG_FILE))
      writeOwnerLog(o.ws, entries);
    return {
      entries: entries.map((e) => JSON.parse(new TextDecoder().decode(serializeAuditEntry(e))) as unknown),
      sequence: change.sequence,
    };
  } finally {
    owned?.close();
  }
}
