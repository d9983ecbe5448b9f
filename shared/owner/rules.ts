/**
 * The owners' rules: where a change may go in the chain, what a payload may say, and who must approve
 * it. These run on every change before it is committed and again, for every entry, whenever anyone
 * verifies the audit log — so the rules, not the committer, decide what is in force.
 */
import { parseAttestationPolicy } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { type Approval, verifyApproval } from "./approval.ts";
import type { ApprovedState } from "./approved-state.ts";
import { canonicalJsonBytes } from "./canonical-json.ts";
import {
  type Change,
  type ChangeOf,
  changeDigest,
  GENESIS_PREVIOUS,
  type Owner,
  type OwnerCredential,
} from "./change.ts";
import { ApprovalError, ChangeRejectedError } from "./errors.ts";

/** Clock skew tolerated on `createdAt` (a proposer's clock slightly ahead of ours). */
export const CLOCK_SKEW_SECONDS = 300;

/** Where the approvals of a change stand. */
export interface ApprovalProgress {
  /** Distinct owners (names) with a valid approval, in approval order. */
  readonly approvedBy: readonly string[];
  /** Owners needed: the current threshold (0 for genesis, which needs possession proofs only). */
  readonly required: number;
  /** Credential IDs of new passkeys (genesis, owner change) that have not yet signed the change. */
  readonly possessionMissing: readonly string[];
  /** True when the change may be committed. */
  readonly complete: boolean;
  /** Signature counters after these approvals, per credential. */
  readonly counters: ReadonlyMap<string, number>;
}

/** Options of {@link evaluateApprovals}. */
export interface EvaluateOptions {
  /**
   * The time to check the change's validity window against. Given when committing a change; omitted
   * when replaying history (an entry stays valid after its change expired).
   */
  readonly now?: Date;
}

const rejected = (
  code: ConstructorParameters<typeof ChangeRejectedError>[0],
  action: string,
  e: string,
  a: string,
) => new ChangeRejectedError(code, action, { expected: e, actual: a });

/** Check `sequence`, `previous`, cluster and kind against the chain head. */
export function checkPlacement(state: ApprovedState | undefined, change: Change, now?: Date): void {
  const action = `Change ${change.sequence} (${change.kind}) refused`;
  if (!state) {
    if (change.kind !== "genesis")
      throw rejected("WRONG_KIND", action, "genesis as the first change", change.kind);
    if (change.sequence !== 0 || change.previous !== GENESIS_PREVIOUS)
      throw rejected("STALE_CHANGE", action, "sequence 0 after nothing", `sequence ${change.sequence}`);
  } else {
    if (change.kind === "genesis")
      throw rejected("WRONG_KIND", action, "no second genesis", `genesis after entry ${state.head.sequence}`);
    if (change.clusterId !== state.clusterId)
      throw rejected("CLUSTER_MISMATCH", action, state.clusterId, change.clusterId);
    if (change.sequence !== state.head.sequence + 1 || change.previous !== state.head.hash)
      throw rejected(
        "STALE_CHANGE",
        action,
        `sequence ${state.head.sequence + 1} after ${state.head.hash.slice(0, 16)}…`,
        `sequence ${change.sequence} after ${change.previous.slice(0, 16)}…`,
      );
  }
  if (now) {
    const t = now.getTime();
    if (Date.parse(change.createdAt) > t + CLOCK_SKEW_SECONDS * 1000 || t >= Date.parse(change.expiresAt))
      throw rejected(
        "CHANGE_EXPIRED",
        action,
        `now within ${change.createdAt} .. ${change.expiresAt}`,
        now.toISOString(),
      );
  }
}

function checkOwnerSet(owners: readonly Owner[], threshold: number, action: string): void {
  const names = new Set<string>();
  const ids = new Set<string>();
  for (const o of owners) {
    if (names.has(o.name)) throw rejected("INVALID_PAYLOAD", action, "distinct owner names", o.name);
    names.add(o.name);
    for (const c of o.credentials) {
      if (ids.has(c.id)) throw rejected("INVALID_PAYLOAD", action, "each passkey once", c.id.slice(0, 16));
      ids.add(c.id);
    }
  }
  if (threshold > owners.length)
    throw rejected("INVALID_PAYLOAD", action, `threshold at most ${owners.length} owners`, String(threshold));
}

/** Check what a payload says against the rules of its kind. */
export function checkPayload(change: Change): void {
  const action = `Change ${change.sequence} (${change.kind}) refused`;
  switch (change.kind) {
    case "genesis": {
      checkOwnerSet(change.payload.owners, change.payload.threshold, action);
      const { rp } = change.payload;
      for (const o of rp.origins) {
        const host = new URL(o).hostname;
        if (host !== rp.id && !host.endsWith(`.${rp.id}`))
          throw rejected("INVALID_PAYLOAD", action, `origins on ${rp.id}`, o);
        if (o.startsWith("http:") && rp.id !== "localhost")
          throw rejected("INVALID_PAYLOAD", action, "https origins (http only for localhost)", o);
      }
      return;
    }
    case "owner-change":
      checkOwnerSet(change.payload.owners, change.payload.threshold, action);
      return;
    case "attestation-policy":
      // Parsed at the parse stage already; parse again so a state built by hand cannot skip it.
      parseAttestationPolicy(canonicalJsonBytes(change.payload.policy));
      return;
    case "node-revocation":
      if (new Set(change.payload.nodes).size !== change.payload.nodes.length)
        throw rejected("INVALID_PAYLOAD", action, "each node once", change.payload.nodes.join(","));
      return;
    case "kms-key-rotation":
    case "recovery":
      return;
    default: {
      const never: never = change;
      throw rejected("WRONG_KIND", action, "a known kind", String((never as { kind: string }).kind));
    }
  }
}

interface Signer {
  readonly credential: OwnerCredential;
  /** The current owner this passkey belongs to; undefined for a passkey this change adds. */
  readonly owner: string | undefined;
}

/** Who may sign `change`: current owners' passkeys, and the passkeys the change adds (possession). */
function signersOf(state: ApprovedState | undefined, change: Change): Map<string, Signer> {
  const signers = new Map<string, Signer>();
  for (const o of state?.owners ?? [])
    for (const c of o.credentials) signers.set(c.id, { credential: c, owner: o.name });
  if (change.kind === "genesis" || change.kind === "owner-change") {
    for (const o of change.payload.owners)
      for (const c of o.credentials)
        if (!signers.has(c.id)) signers.set(c.id, { credential: c, owner: undefined });
  }
  return signers;
}

/**
 * Verify every approval of `change` and report how far it is from taking effect. Any invalid approval
 * throws (an invalid signature is never just "not counted": it means someone tampered). Thresholds count
 * distinct owners, so two passkeys of one owner are one approval.
 */
export async function evaluateApprovals(
  state: ApprovedState | undefined,
  change: Change,
  approvals: readonly Approval[],
  opts: EvaluateOptions = {},
): Promise<ApprovalProgress> {
  checkPlacement(state, change, opts.now);
  checkPayload(change);
  const challenge = changeDigest(change);
  // checkPlacement guarantees: no state ⇒ genesis, which names the relying party.
  const rp = state ? state.rp : (change as ChangeOf<"genesis">).payload.rp;
  const signers = signersOf(state, change);
  const counters = new Map(state?.counters ?? []);
  const seen = new Set<string>();
  const owners: string[] = [];
  const proven = new Set<string>();
  for (const approval of approvals) {
    if (seen.has(approval.credentialId)) {
      throw new ApprovalError("DUPLICATE_APPROVAL", "Approval refused", {
        expected: "one approval per passkey",
        actual: approval.credentialId.slice(0, 16),
      });
    }
    seen.add(approval.credentialId);
    const signer = signers.get(approval.credentialId);
    if (!signer) {
      throw new ApprovalError(
        "UNKNOWN_CREDENTIAL",
        `Approval of change ${toHex(challenge).slice(0, 16)} refused`,
        {
          expected: "a passkey of a current owner (or one this change adds)",
          actual: approval.credentialId.slice(0, 16),
        },
      );
    }
    const verified = await verifyApproval(approval, {
      challenge,
      credential: signer.credential,
      rp,
      counter: counters.get(approval.credentialId) ?? 0,
    });
    counters.set(verified.credentialId, verified.signCount);
    if (signer.owner === undefined) proven.add(approval.credentialId);
    else if (!owners.includes(signer.owner)) owners.push(signer.owner);
  }
  const required = state ? state.threshold : 0;
  const possessionMissing = [...signers.entries()]
    .filter(([id, s]) => s.owner === undefined && !proven.has(id))
    .map(([id]) => id);
  return {
    approvedBy: owners,
    required,
    possessionMissing,
    complete: owners.length >= required && possessionMissing.length === 0,
    counters,
  };
}

/** {@link evaluateApprovals}, throwing unless the change may take effect. */
export async function checkApprovals(
  state: ApprovedState | undefined,
  change: Change,
  approvals: readonly Approval[],
  opts: EvaluateOptions = {},
): Promise<ApprovalProgress> {
  const progress = await evaluateApprovals(state, change, approvals, opts);
  const action = `Change ${change.sequence} (${change.kind}) not approved`;
  if (progress.approvedBy.length < progress.required)
    throw rejected(
      "THRESHOLD_NOT_MET",
      action,
      `${progress.required} owner(s)`,
      `${progress.approvedBy.length} (${progress.approvedBy.join(", ") || "none"})`,
    );
  if (progress.possessionMissing.length > 0)
    throw rejected(
      "POSSESSION_NOT_PROVEN",
      action,
      "an assertion from every added passkey",
      `${progress.possessionMissing.length} missing`,
    );
  return progress;
}
