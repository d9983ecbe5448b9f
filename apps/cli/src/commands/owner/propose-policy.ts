/**
 * Used by `asterism apply`: when the cluster has owners, a policy written into the join configuration
 * takes effect only once the owners approve it (docs/owner.md), so apply proposes it as a change.
 */
import type { AttestationPolicy } from "@asterism/attestation";
import { measurementsToJson } from "@asterism/measurements";
import { canonicalJson, createChange, OwnerStore, type PolicyJson, policyFingerprint } from "@asterism/owner";
import type { ClusterState } from "@asterism/state";

/** What happened to the policy. */
export type PolicyProposal =
  | { readonly kind: "no-owners" }
  | { readonly kind: "already-approved"; readonly sequence: number }
  | { readonly kind: "proposed"; readonly digest: string; readonly existing: boolean }
  | { readonly kind: "not-proposable"; readonly reason: string };

/** The JSON form of a parsed policy, when it has one (SNP settings are not turned back into JSON here). */
export function policyJson(p: AttestationPolicy): PolicyJson | undefined {
  if (p.snp !== undefined) return undefined;
  return {
    ...(p.variants ? { variants: [...p.variants] } : {}),
    measurements: measurementsToJson(p.measurements),
  };
}

/**
 * Propose `policy` to the owners unless it is the approved one or already pending at the current head.
 * Does nothing when the state holds no owner log (a cluster without owners).
 */
export async function proposePolicyToOwners(
  state: ClusterState,
  policy: AttestationPolicy,
  opts: { anchor?: string; now: Date; description: string },
): Promise<PolicyProposal> {
  const store = new OwnerStore(state);
  const log = await store.verifiedLog(opts.anchor ? { anchor: opts.anchor } : {});
  if (!log) return { kind: "no-owners" };
  const approved = log.state.policy;
  if (approved && policyFingerprint(approved.policy) === policyFingerprint(policy))
    return { kind: "already-approved", sequence: approved.sequence };
  const json = policyJson(policy);
  if (!json)
    return { kind: "not-proposable", reason: "SNP settings: propose it with asterism owner propose" };
  const { pending } = await store.listPending();
  const same = pending.find(
    (p) =>
      p.change.kind === "attestation-policy" &&
      p.change.previous === log.state.head.hash &&
      canonicalJson(p.change.payload) === canonicalJson({ policy: json }),
  );
  if (same) return { kind: "proposed", digest: same.digest, existing: true };
  const change = createChange({
    clusterId: log.state.clusterId,
    head: log.state.head,
    kind: "attestation-policy",
    payload: { policy: json },
    now: opts.now,
    description: opts.description,
  });
  return { kind: "proposed", digest: (await store.propose(change)).digest, existing: false };
}
