import * as v from "valibot";
import { base64Bytes, hexString, MasterSecretWireSchema } from "./encoding.ts";
import { OwnerPinWireSchema } from "./owner.ts";

/** The measurement salt: 32 random bytes chosen by the CLI (reference §1.1 field 3). */
export const MEASUREMENT_SALT_BYTES = 32;
/** bcrypt hashes only the first 72 bytes of a secret; longer init secrets are refused. */
export const MAX_INIT_SECRET_BYTES = 72;
/** Upper bound on the component list (Kubernetes needs ~10). */
const MAX_COMPONENTS = 64;

/** Most measurement entries a join policy may list (a TPM has 24 PCRs; TDX 5 registers). */
export const MAX_JOIN_POLICY_MEASUREMENTS = 32;
/** Most variants a join policy may name. */
const MAX_JOIN_POLICY_VARIANTS = 16;

/** `{"expected": hex (32 or 48 bytes), "warnOnly": bool}`, the form `serializePolicy` writes. */
const JoinPolicyMeasurementSchema = v.strictObject({
  expected: v.pipe(v.string(), v.regex(/^(?:[0-9a-f]{64}|[0-9a-f]{96})$/, "must be 32 or 48 bytes of hex")),
  warnOnly: v.boolean(),
});

/** True for a plain object whose keys are all canonical decimal indices and that is not too big. */
function measurementKeysOk(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length <= MAX_JOIN_POLICY_MEASUREMENTS && keys.every((k) => /^(?:0|[1-9][0-9]?)$/.test(k));
}

/**
 * The attestation policy joining nodes must meet, as the cluster state's join configuration holds it
 * (`serializePolicy` of @asterism/lifecycle as a JSON value): `{"variants"?: [...], "measurements":
 * {"<index>": {"expected": hex, "warnOnly": bool}}}`. Bounded by construction (≤ 16 variants, ≤ 32
 * entries of ≤ 96 hex digits: well under 8 KiB). Keys are checked on the raw object first: valibot's
 * `record` silently drops `__proto__`, and a policy must never lose an entry without an error. The
 * receiver still parses it with `parseAttestationPolicy` (variant names, mixed sizes).
 */
export const JoinPolicyWireSchema = v.strictObject({
  variants: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.maxLength(64))),
      v.minLength(1),
      v.maxLength(MAX_JOIN_POLICY_VARIANTS),
    ),
  ),
  measurements: v.pipe(
    v.unknown(),
    v.check(measurementKeysOk, `must map at most ${MAX_JOIN_POLICY_MEASUREMENTS} decimal indices (0-99)`),
    v.record(v.string(), JoinPolicyMeasurementSchema),
  ),
});
export type JoinPolicyWire = v.InferOutput<typeof JoinPolicyWireSchema>;

const dnsName = v.pipe(v.string(), v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/), v.maxLength(63));

/**
 * `POST /v1/init` (bootstrapper, server-attested aTLS). The successor of Constellation's `InitRequest`
 * (reference §1.1) as JSON: the master secret arrives as such instead of inside a `kms://` URI, and there
 * is no storage URI. Components are checked by `parseComponentList` (every one SHA-256 pinned).
 */
export const InitRequestSchema = v.strictObject({
  initSecret: base64Bytes({ max: MAX_INIT_SECRET_BYTES }),
  masterSecret: MasterSecretWireSchema,
  measurementSalt: base64Bytes({ length: MEASUREMENT_SALT_BYTES }),
  clusterName: v.optional(dnsName, "asterism"),
  kubernetesVersion: v.pipe(v.string(), v.regex(/^v1\.\d{1,3}\.\d{1,3}$/, "must look like v1.31.13")),
  kubernetesComponents: v.pipe(v.array(v.unknown()), v.maxLength(MAX_COMPONENTS)),
  serviceCidr: v.pipe(v.string(), v.maxLength(64)),
  podCidr: v.optional(v.pipe(v.string(), v.maxLength(64))),
  apiServerCertSans: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(253))), v.maxLength(32)), []),
  controlPlaneEndpoint: v.optional(v.pipe(v.string(), v.maxLength(300))),
  /** The cluster's owners (`asterism init --owner`): the node records them for recovery approvals. */
  owner: v.optional(OwnerPinWireSchema),
  /**
   * Optional: the policy joining nodes must meet (the one the CLI validated this node with, PCR 15 = 0).
   * A bootstrapper that provisions the control-plane services itself writes it into the cluster state's
   * join configuration; others ignore it.
   */
  joinPolicy: v.optional(JoinPolicyWireSchema),
});
export type InitRequest = v.InferOutput<typeof InitRequestSchema>;
export type InitRequestJson = v.InferInput<typeof InitRequestSchema>;

/** `POST /v1/init` answer: the cluster ID (hex) and the admin kubeconfig (YAML, holds a client key). */
export const InitResponseSchema = v.strictObject({
  clusterId: hexString(32),
  kubeconfig: v.pipe(v.string(), v.maxLength(64 * 1024)),
  kubernetes: v.strictObject({
    performed: v.boolean(),
    note: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  }),
});
export type InitResponse = v.InferOutput<typeof InitResponseSchema>;
