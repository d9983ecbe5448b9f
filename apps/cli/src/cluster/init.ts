/**
 * Init of a cluster's first control-plane node, as `init`, `apply` and `mini up` do it: the node must
 * prove the configured measurements with PCR 15 = 0 over attested TLS before the master secret leaves
 * (@asterism/lifecycle `initCluster`); the cluster ID it returns must be the one our master secret and
 * measurement salt derive, or the node did not use our secrets.
 */
import type { OwnerPinWire } from "@asterism/api";
import { type AttestationPolicy, createValidator } from "@asterism/attestation";
import { constantTimeEqual, toHex } from "@asterism/bytes";
import { deriveClusterId, deriveKey } from "@asterism/keys";
import { type InitClusterResult, initCluster } from "@asterism/lifecycle";
import type { Config } from "../config/schema.ts";
import type { MasterSecret } from "../workspace/master-secret.ts";
import { ClusterError } from "./errors.ts";
import { nodePolicy } from "./policy.ts";

/** Options of {@link initFirstNode}. */
export interface InitFirstNodeOptions {
  /** `https://host:port` of the node's init endpoint. */
  readonly endpoint: string;
  readonly config: Config;
  readonly initSecret: Uint8Array;
  readonly masterSecret: MasterSecret;
  readonly measurementSalt: Uint8Array;
  /**
   * The policy the node must meet, PCR 15 = 0 (default: the configured measurements, `nodePolicy`). A VM
   * cluster passes the image's precomputed measurements here. It is also sent as the init request's
   * `joinPolicy`, the policy joining nodes must meet.
   */
  readonly policy?: AttestationPolicy;
  /** `host:port` of the API server as nodes reach it (default: the node's IP, port 6443). */
  readonly controlPlaneEndpoint?: string;
  readonly waitForEndpointMs?: number;
  readonly retryIntervalMs?: number;
  readonly responseTimeoutMs?: number;
  readonly now?: () => Date;
  /** The owners enrolled before init (`--owner`): the node records their anchor and log head. */
  readonly owner?: OwnerPinWire;
}

/** The cluster ID a master secret and measurement salt give (Constellation's derivation). */
export async function expectedClusterId(
  master: MasterSecret,
  measurementSalt: Uint8Array,
): Promise<Uint8Array> {
  const measurementSecret = await deriveKey({
    secret: master.key.slice(),
    salt: master.salt,
    purpose: "measurementSecret",
  });
  return deriveClusterId(measurementSecret, measurementSalt);
}

/** Init the node at `endpoint`; throws the lifecycle's coded errors, or BAD_RESPONSE for a wrong cluster ID. */
export async function initFirstNode(o: InitFirstNodeOptions): Promise<InitClusterResult> {
  const policy = o.policy ?? nodePolicy(o.config, undefined);
  const result = await initCluster({
    endpoint: o.endpoint,
    validators: [createValidator(o.config.attestation.variant, { policy, ...(o.now ? { now: o.now } : {}) })],
    initSecret: o.initSecret,
    masterSecret: o.masterSecret,
    measurementSalt: o.measurementSalt,
    kubernetes: {
      version: o.config.kubernetesVersion,
      components: [],
      serviceCidr: "10.96.0.0/12",
      clusterName: o.config.name,
      ...(o.controlPlaneEndpoint ? { controlPlaneEndpoint: o.controlPlaneEndpoint } : {}),
    },
    joinPolicy: policy,
    ...(o.waitForEndpointMs !== undefined ? { waitForEndpointMs: o.waitForEndpointMs } : {}),
    ...(o.retryIntervalMs !== undefined ? { retryIntervalMs: o.retryIntervalMs } : {}),
    ...(o.responseTimeoutMs !== undefined ? { responseTimeoutMs: o.responseTimeoutMs } : {}),
    ...(o.now ? { now: o.now } : {}),
    ...(o.owner ? { owner: o.owner } : {}),
  });
  const expected = await expectedClusterId(o.masterSecret, o.measurementSalt);
  if (!constantTimeEqual(expected, result.clusterId)) {
    throw new ClusterError("BAD_RESPONSE", "The initialized node reports another cluster ID", {
      expected: toHex(expected),
      actual: toHex(result.clusterId),
    });
  }
  return result;
}
