import * as v from "valibot";
import { base64Bytes, hexString, MasterSecretWireSchema } from "./encoding.ts";
import { OwnerPinWireSchema } from "./owner.ts";

/** The measurement salt: 32 random bytes chosen by the CLI (reference §1.1 field 3). */
export const MEASUREMENT_SALT_BYTES = 32;
/** bcrypt hashes only the first 72 bytes of a secret; longer init secrets are refused. */
export const MAX_INIT_SECRET_BYTES = 72;
/** Upper bound on the component list (Kubernetes needs ~10). */
const MAX_COMPONENTS = 64;

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
