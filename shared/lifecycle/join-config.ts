import { type AttestationPolicy, parseAttestationPolicy } from "@asterism/attestation";
import { fromUtf8, utf8 } from "@asterism/bytes";
import { measurementsToJson } from "@asterism/measurements";
import { type ClusterState, StateError, type StoredObject } from "@asterism/state";
import { LifecycleError } from "./errors.ts";

/** Cluster-state names (docs/lifecycle.md §4). */
export const STATE_OBJECTS = {
  joinConfig: "asterism-join-config",
  components: "asterism-kubernetes-components",
  diskOwnerPrefix: "asterism-disk-owner-",
  bootstrapTokenPrefix: "bootstrap-token-",
} as const;

/** Label on bootstrap-token Secrets written by the JoinService (so they can be listed and purged). */
export const BOOTSTRAP_TOKEN_LABEL = { "asterism.dev/bootstrap-token": "true" } as const;

/** What the CLI writes after init and the JoinService reads. */
export interface JoinConfig {
  /** Policy for joining nodes; PCR 15 must be 0 (uninitialized nodes only), PCR 16 absent. */
  readonly policy: AttestationPolicy;
  /** The measurement salt of the cluster (32 bytes), handed to joining nodes for their cluster ID. */
  readonly measurementSalt: Uint8Array;
  readonly kubernetesVersion: string;
  /** Kubernetes components (JSON-shaped, checked by @asterism/kubeadm `parseComponentList` on use). */
  readonly components: readonly unknown[];
}

/** Policy JSON as the JoinService reads it (`{"variants"?, "measurements"}`). */
export function serializePolicy(policy: AttestationPolicy): Uint8Array {
  return utf8(
    JSON.stringify({
      ...(policy.variants ? { variants: policy.variants } : {}),
      measurements: measurementsToJson(policy.measurements),
    }),
  );
}

async function put(state: ClusterState, name: string, data: Record<string, Uint8Array>): Promise<void> {
  // Create, or compare-and-swap over the current version (bounded: a concurrent writer wins at most a few times).
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await state.get("config", name);
    try {
      if (cur === undefined) await state.create("config", name, data);
      else await state.update("config", name, data, cur.version);
      return;
    } catch (err) {
      if (!(err instanceof StateError && (err.code === "CONFLICT" || err.code === "ALREADY_EXISTS")))
        throw err;
    }
  }
  throw new LifecycleError("UNAVAILABLE", `Cannot write ${name}`, { expected: "a write within 5 attempts" });
}

/**
 * Write (or replace) the join configuration: the policy and measurement salt in `asterism-join-config`,
 * the Kubernetes version and components in `asterism-kubernetes-components`. The JoinService picks the
 * change up within its reload interval.
 */
export async function writeJoinConfig(state: ClusterState, config: JoinConfig): Promise<void> {
  if (config.measurementSalt.length !== 32)
    throw new LifecycleError("CONFIG_INVALID", "Cannot write the join configuration", {
      expected: "a 32-byte measurement salt",
      actual: `${config.measurementSalt.length} bytes`,
    });
  await put(state, STATE_OBJECTS.components, {
    kubernetesVersion: utf8(config.kubernetesVersion),
    components: utf8(JSON.stringify(config.components)),
  });
  await put(state, STATE_OBJECTS.joinConfig, {
    attestationPolicy: serializePolicy(config.policy),
    measurementSalt: config.measurementSalt.slice(),
  });
}

/** Parse a stored join-config object (throws coded errors of @asterism/attestation or CONFIG_INVALID). */
export function parseJoinConfigObject(o: StoredObject): Pick<JoinConfig, "policy" | "measurementSalt"> {
  const policy = o.data["attestationPolicy"];
  const salt = o.data["measurementSalt"];
  if (policy === undefined || salt === undefined || salt.length !== 32)
    throw new LifecycleError("CONFIG_INVALID", `Cannot use ${o.name}`, {
      expected: "attestationPolicy and a 32-byte measurementSalt",
      actual: `keys ${Object.keys(o.data).join(",")}`,
    });
  return { policy: parseAttestationPolicy(policy), measurementSalt: salt };
}

/** Parse the stored components object (absent ⇒ no components, unknown version). */
export function parseComponentsObject(
  o: StoredObject | undefined,
): Pick<JoinConfig, "kubernetesVersion" | "components"> {
  if (o === undefined) return { kubernetesVersion: "", components: [] };
  try {
    const components = JSON.parse(fromUtf8(o.data["components"] ?? utf8("[]"))) as unknown;
    return {
      kubernetesVersion: fromUtf8(o.data["kubernetesVersion"] ?? new Uint8Array()),
      components: Array.isArray(components) ? components : [],
    };
  } catch (cause) {
    throw new LifecycleError("CONFIG_INVALID", `Cannot use ${o.name}`, {
      expected: "components JSON",
      cause,
    });
  }
}
