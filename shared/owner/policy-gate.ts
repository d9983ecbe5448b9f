/**
 * For services that keep a policy copy of their own in cluster state (the JoinService's join
 * configuration): the policy they enforce is the one the owners approved; a stored copy that differs was
 * written without approval and is refused loudly (by the loader, once per episode).
 */
import type { AttestationPolicy } from "@asterism/attestation";
import type { ApprovedPolicy, ApprovedState } from "./approved-state.ts";
import { AuditLogError } from "./errors.ts";
import type { ApprovedStateLoader } from "./loader.ts";

/** The result of {@link enforceApprovedPolicy}. */
export interface EnforcedPolicy {
  /** What to enforce: the approved policy. */
  readonly approved: ApprovedPolicy;
  /** The approved state (revoked nodes, rotations) from the same load. */
  readonly state: ApprovedState;
  /** Refusals of this load (the log's, the published copy's, and the stored copy's). */
  readonly refused: readonly AuditLogError[];
}

/**
 * Load the approved policy and compare the service's stored copy with it. A differing copy is refused
 * (`POLICY_NOT_APPROVED`: an `error` line and `onRefused` of the loader); the approved policy is returned
 * either way. Throws `NO_APPROVED_POLICY` (or the loader's error) when there is nothing approved.
 *
 * @example
 * const { approved, state } = await enforceApprovedPolicy({ loader, stored: joinConfig.policy, object: "asterism-join-config" });
 * validators = build(approved.policy); revoked = state.revokedNodes;
 */
export async function enforceApprovedPolicy(opts: {
  loader: ApprovedStateLoader;
  stored: AttestationPolicy | undefined;
  /** Name of the object holding the stored copy, for the log line. */
  object: string;
}): Promise<EnforcedPolicy> {
  const loaded = await opts.loader.load(
    opts.stored === undefined ? {} : { stored: { object: opts.object, policy: opts.stored } },
  );
  const approved = loaded.policy;
  if (!approved)
    throw new AuditLogError("NO_APPROVED_POLICY", "No attestation policy approved yet", {
      expected: "an approved attestation-policy entry",
      actual: `log head ${loaded.state.head.sequence}`,
    });
  return { approved, state: loaded.state, refused: loaded.refused };
}
