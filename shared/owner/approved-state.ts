/**
 * The approved state: what is in force, derived only by replaying the verified audit log. Nothing here
 * is read from anywhere else, so editing cluster state directly changes nothing that services enforce.
 */
import { type AttestationPolicy, parseAttestationPolicy } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { canonicalJsonBytes } from "./canonical-json.ts";
import {
  type ChainPosition,
  type Change,
  changeDigest,
  type Owner,
  type PolicyJson,
  type RelyingParty,
} from "./change.ts";

/** The attestation policy in force and the change that approved it. */
export interface ApprovedPolicy {
  /** The policy as approved (JSON, normalized spelling). */
  readonly json: PolicyJson;
  /** The same policy, parsed for @asterism/attestation validators. */
  readonly policy: AttestationPolicy;
  /** Sequence of the audit entry that approved it. */
  readonly sequence: number;
  /** Hex digest of the approving change. */
  readonly changeDigest: string;
}

/** An approved event of a kind services act on (rotation, revocation, recovery). */
export interface ApprovedEvent<P> {
  readonly sequence: number;
  readonly changeDigest: string;
  readonly payload: P;
}

/** Everything in force after replaying the log up to `head`. */
export interface ApprovedState {
  readonly clusterId: string;
  readonly rp: RelyingParty;
  readonly owners: readonly Owner[];
  readonly threshold: number;
  /** Hash of the genesis entry: the anchor a verifier pins. */
  readonly genesisHash: string;
  /** The last entry. */
  readonly head: ChainPosition;
  readonly policy: ApprovedPolicy | undefined;
  /** Revoked node names and the entry that revoked each. */
  readonly revokedNodes: ReadonlyMap<string, ApprovedEvent<{ reason: string }>>;
  readonly keyRotations: readonly ApprovedEvent<{ key: string; reason: string }>[];
  readonly recoveries: readonly ApprovedEvent<{
    node: string;
    disk: string;
    nonce: string;
    reason: string;
  }>[];
  /** Highest signature counter seen per credential ID. */
  readonly counters: ReadonlyMap<string, number>;
}

/**
 * Apply a change that has passed {@link checkApprovals} (rules.ts) and was stored as the entry with hash
 * `entryHash`. Pure: returns a new state.
 */
export function applyChange(
  state: ApprovedState | undefined,
  change: Change,
  entryHash: string,
  counters: ReadonlyMap<string, number>,
): ApprovedState {
  const head = { sequence: change.sequence, hash: entryHash };
  const digest = toHex(changeDigest(change));
  if (change.kind === "genesis") {
    return {
      clusterId: change.clusterId,
      rp: change.payload.rp,
      owners: change.payload.owners,
      threshold: change.payload.threshold,
      genesisHash: entryHash,
      head,
      policy: undefined,
      revokedNodes: new Map(),
      keyRotations: [],
      recoveries: [],
      counters,
    };
  }
  if (!state) throw new Error("applyChange: only genesis starts a state"); // checkPlacement prevents this
  const next = { ...state, head, counters };
  const event = <P>(payload: P): ApprovedEvent<P> => ({
    sequence: change.sequence,
    changeDigest: digest,
    payload,
  });
  switch (change.kind) {
    case "owner-change":
      return { ...next, owners: change.payload.owners, threshold: change.payload.threshold };
    case "attestation-policy":
      return {
        ...next,
        policy: {
          json: change.payload.policy,
          policy: parseAttestationPolicy(canonicalJsonBytes(change.payload.policy)),
          sequence: change.sequence,
          changeDigest: digest,
        },
      };
    case "node-revocation": {
      const revoked = new Map(state.revokedNodes);
      for (const n of change.payload.nodes) revoked.set(n, event({ reason: change.payload.reason }));
      return { ...next, revokedNodes: revoked };
    }
    case "kms-key-rotation":
      return { ...next, keyRotations: [...state.keyRotations, event(change.payload)] };
    case "recovery":
      return { ...next, recoveries: [...state.recoveries, event(change.payload)] };
    default: {
      const never: never = change;
      return never;
    }
  }
}
