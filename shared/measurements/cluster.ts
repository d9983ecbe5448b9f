/**
 * The expected value of the cluster-ID measurement after a node has been initialised or has joined.
 *
 * The bootstrapper extends PCR 15 (TPM, SHA-256 bank) or RTMR2 (TDX, policy index 3) exactly once with
 * the cluster ID. Starting from a zero register, one extend gives
 * `H(0^n ‖ H(clusterID))` with H = SHA-256, n = 32 for TPM, and H = SHA-384, n = 48 for TDX
 * (reference/constellation.md §5.3, Constellation `cli/internal/cmd/verify.go`).
 */
import { createHash } from "node:crypto";
import { MeasurementsPolicyError } from "./errors.ts";
import { type Measurement, type MeasurementSize, type Measurements, mergeMeasurements } from "./policy.ts";

/** Cluster IDs are 32 bytes (HKDF-SHA256 output, DESIGN.md "Compatibility"). */
export const CLUSTER_ID_BYTES = 32;

/** Where the cluster ID is measured: PCR 15 on TPM policies, index 3 (RTMR2) on 48-byte TDX policies. */
export const CLUSTER_ID_INDEX: Readonly<Record<MeasurementSize, number>> = { 32: 15, 48: 3 };

/** Hex of the register value after extending a zero register once with `clusterId`. */
export function clusterIdMeasurement(clusterId: Uint8Array, size: MeasurementSize = 32): string {
  if (clusterId.length !== CLUSTER_ID_BYTES) {
    throw new MeasurementsPolicyError("UNSUPPORTED_SIZE", "Cannot compute the cluster-ID measurement", {
      expected: `${CLUSTER_ID_BYTES}-byte cluster ID`,
      actual: `${clusterId.length} bytes`,
    });
  }
  const alg = size === 32 ? "sha256" : size === 48 ? "sha384" : undefined;
  if (alg === undefined) {
    throw new MeasurementsPolicyError("UNSUPPORTED_SIZE", "Cannot compute the cluster-ID measurement", {
      expected: "32 or 48",
      actual: String(size),
    });
  }
  const inner = createHash(alg).update(clusterId).digest();
  return createHash(alg).update(new Uint8Array(size)).update(inner).digest("hex");
}

/**
 * The policy with the cluster-ID index set (enforced) to the value a node of this cluster must show.
 * `size` defaults to the policy's own value size, or 32 for an empty policy.
 */
export function withClusterId(
  policy: Measurements,
  clusterId: Uint8Array,
  size?: MeasurementSize,
): Measurements {
  let s: MeasurementSize = size ?? 32;
  if (size === undefined) for (const e of policy.values()) s = (e.expected.length / 2) as MeasurementSize;
  const entry: Measurement = { expected: clusterIdMeasurement(clusterId, s), warnOnly: false };
  return mergeMeasurements(policy, new Map([[CLUSTER_ID_INDEX[s], entry]]));
}
