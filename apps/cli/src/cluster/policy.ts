/**
 * The attestation policy the CLI applies to a running cluster's nodes: the configured measurements, plus
 * PCR 15 = SHA-256(0³² ‖ SHA-256(clusterID)) once the cluster exists (0 before init), minus PCR 16 (the
 * node-identity PCR holds a per-node value and is never part of an enforced set; docs/lifecycle.md §1).
 */
import type { AttestationPolicy, Variant } from "@asterism/attestation";
import {
  CLUSTER_ID_INDEX,
  createMeasurements,
  type Measurements,
  measurementsFromJsonValue,
  withClusterId,
} from "@asterism/measurements";
import type { Config } from "../config/schema.ts";

/** The node-identity PCR (docs/lifecycle.md §1). */
export const IDENTITY_PCR = 16;

/** The configured measurements as a policy map, without PCR 16. */
export function configuredMeasurements(config: Config): { measurements: Measurements; dropped: number[] } {
  const raw = config.attestation.measurements;
  const dropped = Object.keys(raw)
    .map(Number)
    .filter((i) => i === IDENTITY_PCR);
  const kept = Object.fromEntries(Object.entries(raw).filter(([k]) => Number(k) !== IDENTITY_PCR));
  return { measurements: measurementsFromJsonValue(kept), dropped };
}

/**
 * The policy for a node of this cluster. `clusterId` undefined means "not yet initialised": PCR 15 must
 * still be zero (what init, join and recovery require).
 */
export function nodePolicy(config: Config, clusterId: Uint8Array | undefined): AttestationPolicy {
  const { measurements } = configuredMeasurements(config);
  const variant: Variant = config.attestation.variant;
  if (clusterId !== undefined)
    return { variants: [variant], measurements: withClusterId(measurements, clusterId) };
  const zero = new Map(measurements);
  const size = variant.endsWith("-tdx") ? 48 : 32;
  for (const [i, m] of createMeasurements([[CLUSTER_ID_INDEX[size], { expected: new Uint8Array(size) }]]))
    zero.set(i, m);
  return { variants: [variant], measurements: new Map([...zero].sort(([a], [b]) => a - b)) };
}
