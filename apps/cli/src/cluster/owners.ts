/**
 * Owner enrollment at init (`asterism init --owner`, `asterism mini up --owner`; docs/owner.md "At
 * init"). The order is what makes it safe:
 *
 *  1. The CLI derives the cluster ID from its master secret and the fresh measurement salt (the node
 *     derives the same; the CLI checks the node's answer against it), so the genesis can name the
 *     cluster before the node is initialized.
 *  2. In one browser session the owners register their passkeys, sign the genesis, and approve the
 *     initial attestation policy (the configuration's measurements, PCR 15 = 0). This log lives in
 *     memory: nothing is written anywhere until it is complete.
 *  3. The init request carries the anchor and the log head; the node records them on its state disk
 *     (for recovery approvals).
 *  4. After init, the log is imported into the cluster state and the anchor object is created — before
 *     the join configuration is written and before any JoinService starts, and the services start with
 *     the anchor: no service ever runs a second with a policy the owners did not approve.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OwnerPinWire } from "@asterism/api";
import type { AttestationPolicy } from "@asterism/attestation";
import { fromUtf8 } from "@asterism/bytes";
import {
  type AuditEntry,
  AuditLogError,
  OWNER_LABEL,
  OwnerStore,
  serializeAuditEntry,
  verifyAuditLog,
} from "@asterism/owner";
import { type ClusterState, openSqliteState, StateError } from "@asterism/state";
import type { CliIo } from "../command.ts";
import { type CeremonySettings, serveCeremony } from "../commands/owner/ceremony.ts";
import { LOCAL_RP } from "../commands/owner/enroll.ts";
import { policyJson } from "../commands/owner/propose-policy.ts";
import { stateSource } from "../console/source.ts";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { ClusterError } from "./errors.ts";

/**
 * The object the services' manifests read the anchor from (k8s/base: `configMapKeyRef`
 * `asterism-owner-anchor`/`anchor`), created once and never overwritten.
 */
export const OWNER_ANCHOR_OBJECT = "asterism-owner-anchor";
export const OWNER_ANCHOR_KEY = "anchor";

/** The workspace's copy of the owners' log (`asterism audit export` format): recovery reads it. */
export const OWNER_LOG_FILE = "asterism-audit-log.json";

/** What the init ceremony produced. */
export interface EnrolledOwners {
  /** Genesis hash: pinned by the services, the nodes, the workspace. */
  readonly anchor: string;
  /** The log: genesis and the approved initial policy. */
  readonly entries: readonly AuditEntry[];
  /** What the first node records. */
  readonly pin: OwnerPinWire;
  readonly owners: readonly string[];
  readonly threshold: number;
}

/** Options of {@link enrollOwnersAtInit}. */
export interface EnrollAtInitOptions {
  readonly io: CliIo;
  readonly settings: CeremonySettings;
  /** Hex cluster ID the init will produce. */
  readonly clusterId: string;
  /** The join policy the owners approve (what the JoinService will enforce). */
  readonly policy: AttestationPolicy;
  /** Owners needed per change (capped at the number enrolled). */
  readonly threshold: number;
}

/**
 * Run the init ceremony: the owners enroll and approve `policy` in one browser session. Throws
 * `OWNERS_NOT_ENROLLED` when the user gives up (timeout, Ctrl-C) — before anything was sent to a node.
 */
export async function enrollOwnersAtInit(o: EnrollAtInitOptions): Promise<EnrolledOwners> {
  const initialPolicy = policyJson(o.policy);
  if (!initialPolicy)
    throw new ClusterError("OWNERS_NOT_ENROLLED", "Cannot propose this policy to the owners at init", {
      expected: "a policy without SNP settings (propose those later with asterism owner propose)",
    });
  const state = openSqliteState(":memory:");
  try {
    const event = await serveCeremony(o.io, o.settings, {
      mode: "init",
      source: stateSource(state),
      enroll: { clusterId: o.clusterId, threshold: o.threshold, rp: LOCAL_RP, initialPolicy },
      what: "enroll the cluster's owners and approve its initial attestation policy",
      until: (e) => e.kind === "committed" && e.changeKind === "attestation-policy",
    });
    if (!event)
      throw new ClusterError("OWNERS_NOT_ENROLLED", "The owners did not finish enrolling", {
        expected: `genesis and an approved initial policy within ${o.settings.timeoutS} s`,
        actual: "stopped or timed out; nothing was sent to the node",
      });
    const entries = await new OwnerStore(state).readEntries();
    const { state: approved } = await verifyAuditLog(entries, { clusterId: o.clusterId });
    return {
      anchor: approved.genesisHash,
      entries,
      pin: {
        anchor: approved.genesisHash,
        head: { sequence: approved.head.sequence, hash: approved.head.hash },
      },
      owners: approved.owners.map((x) => x.name),
      threshold: approved.threshold,
    };
  } finally {
    state.close();
  }
}

/**
 * Put the owners into the cluster state: the anchor object first (created once; an existing one with
 * another anchor is `ANCHOR_MISMATCH`, never overwritten), then the log (`importLog`: verified from the
 * anchor, idempotent).
 */
export async function publishOwners(state: ClusterState, owners: Pick<EnrolledOwners, "anchor" | "entries">) {
  const data = { [OWNER_ANCHOR_KEY]: new TextEncoder().encode(owners.anchor) };
  try {
    await state.create("config", OWNER_ANCHOR_OBJECT, data, { [OWNER_LABEL]: "anchor" });
  } catch (err) {
    if (!(err instanceof StateError && err.code === "ALREADY_EXISTS")) throw err;
    const existing = await state.get("config", OWNER_ANCHOR_OBJECT);
    const value = existing?.data[OWNER_ANCHOR_KEY];
    if (value === undefined || fromUtf8(value) !== owners.anchor)
      throw new AuditLogError("ANCHOR_MISMATCH", "The cluster state pins other owners", {
        expected: owners.anchor,
        actual: value === undefined ? "an unreadable anchor object" : fromUtf8(value).slice(0, 64),
      });
  }
  return new OwnerStore(state).importLog(owners.entries, { anchor: owners.anchor });
}

/** Save the owners' log in the workspace (0644: public data), in `asterism audit export` format. */
export function writeOwnerLog(ws: WorkspacePaths, entries: readonly AuditEntry[]): string {
  const path = join(ws.dir, OWNER_LOG_FILE);
  const values = entries.map((e) => JSON.parse(fromUtf8(serializeAuditEntry(e))) as unknown);
  writeFileSync(path, `${JSON.stringify({ format: "asterism.audit-log/v1", entries: values }, null, 2)}\n`);
  return path;
}
