/**
 * For services that keep a policy copy of their own in cluster state (the JoinService's join
 * configuration): the policy they enforce is the one the owners approved; a stored copy that differs was
 * written without approval and is refused loudly.
 */
import type { AttestationPolicy } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { measurementsToJson } from "@asterism/measurements";
import type { Logger } from "@asterism/service";
import type { ApprovedPolicy, ApprovedState } from "./approved-state.ts";
import { canonicalJson } from "./canonical-json.ts";
import { AuditLogError } from "./errors.ts";
import type { ApprovedStateLoader } from "./loader.ts";

/**
 * A canonical string of a parsed policy (variants, measurements, SNP settings after defaults), so two
 * spellings of one policy compare equal and any difference in what is enforced does not.
 */
export function policyFingerprint(p: AttestationPolicy): string {
  const plain = JSON.parse(
    JSON.stringify(
      {
        variants: p.variants ? [...p.variants].sort() : null,
        measurements: measurementsToJson(p.measurements),
        snp: p.snp ?? null,
      },
      (_k, v: unknown) => (v instanceof Uint8Array ? toHex(v) : typeof v === "bigint" ? v.toString() : v),
    ),
  ) as unknown;
  return canonicalJson(plain);
}

/** Do two parsed policies enforce the same thing? */
export function samePolicy(a: AttestationPolicy, b: AttestationPolicy): boolean {
  return policyFingerprint(a) === policyFingerprint(b);
}

/** The result of {@link enforceApprovedPolicy}. */
export interface EnforcedPolicy {
  /** What to enforce: the approved policy. */
  readonly approved: ApprovedPolicy;
  /** The approved state (revoked nodes, rotations) from the same load. */
  readonly state: ApprovedState;
  /** Refusals of this load (the loader's, plus a differing stored copy). */
  readonly refused: readonly AuditLogError[];
}

/**
 * Load the approved policy and compare the service's stored copy with it. A differing copy is refused:
 * an `error` log line with `POLICY_NOT_APPROVED` and `onRefused`; the approved policy is returned either
 * way. Throws `NO_APPROVED_POLICY` (or the loader's error) when there is nothing approved to enforce.
 *
 * @example
 * const { approved, state } = await enforceApprovedPolicy({ loader, stored: joinConfig.policy, object: "asterism-join-config", logger });
 * validators = build(approved.policy); revoked = state.revokedNodes;
 */
export async function enforceApprovedPolicy(opts: {
  loader: ApprovedStateLoader;
  stored: AttestationPolicy | undefined;
  /** Name of the object holding the stored copy, for the log line. */
  object: string;
  logger: Logger;
  onRefused?: (e: AuditLogError) => void;
}): Promise<EnforcedPolicy> {
  const loaded = await opts.loader.load();
  const approved = loaded.policy;
  if (!approved)
    throw new AuditLogError("NO_APPROVED_POLICY", "No attestation policy approved yet", {
      expected: "an approved attestation-policy entry",
      actual: `log head ${loaded.state.head.sequence}`,
    });
  const refused = [...loaded.refused];
  if (opts.stored !== undefined && !samePolicy(opts.stored, approved.policy)) {
    const err = new AuditLogError(
      "POLICY_NOT_APPROVED",
      `Policy in ${opts.object} was changed without owner approval`,
      {
        expected: `the policy approved in audit entry ${approved.sequence}`,
        actual: "a different policy",
      },
    );
    refused.push(err);
    opts.logger.log("error", "owner: refused unapproved policy; enforcing the approved one", {
      code: err.code,
      object: opts.object,
      approvedSequence: approved.sequence,
    });
    opts.onRefused?.(err);
  }
  return { approved, state: loaded.state, refused };
}
