/**
 * The Kubernetes sink of the control-plane services' provisioning: at init, after `kubeadm init` and
 * before the rendered manifests are applied, the bootstrapper creates with its admin credentials the
 * objects the manifests reference but never contain (k8s/README.md, docs/deploy.md step 5):
 *
 * - Secret `kms-tls` (`tls.crt`, `tls.key`, `ca.crt`): the KMS's server certificate for
 *   `kms.asterism-system.svc` (and `asterism://kms`) and the service CA, its only trust anchor for callers;
 * - Secret `join-service-kms-client-tls` (`tls.crt`, `tls.key`, `ca.crt`): the JoinService's client
 *   certificate (`asterism://join-service`) and the same CA;
 * - Secret `kms-master-secret` (`master-secret.json`): the init request's master secret, Constellation's
 *   `{"key","salt"}` format;
 * - ConfigMap `join-service-config` (`api-server-endpoint`): the init's control-plane endpoint;
 * - the join configuration through cluster state (`asterism-join-config`, `asterism-kubernetes-components`,
 *   @asterism/lifecycle `writeJoinConfig`), when the init request carries a join policy.
 *
 * One service CA per init signs both certificates; its private key never leaves this process (it is not
 * needed in the cluster, and whoever holds it could mint a JoinService identity for the KMS).
 *
 * Idempotent without ever overwriting: every object is created if absent; an existing one must hold
 * exactly what this init built (a retry after an unreachable API server passes the same objects), and
 * anything else is refused — a master secret or certificates other than this init's must not be kept
 * silently, nor replaced (a rotated key must survive a re-run).
 */
import type { AttestationPolicy } from "@asterism/attestation";
import { bytesEqual, constantTimeEqual, fromBase64, toBase64, utf8 } from "@asterism/bytes";
import { serializeMasterSecret } from "@asterism/keys";
import {
  createObject,
  getObject,
  isRecord,
  type KubeClient,
  type KubeObject,
  objectKey,
} from "@asterism/kube-apply";
import { parseJoinConfigObject, STATE_OBJECTS, serializePolicy, writeJoinConfig } from "@asterism/lifecycle";
import { createClusterCa, issueServiceCertificate } from "@asterism/mtls";
import type { ClusterState } from "@asterism/state";
import { BootstrapperError } from "./errors.ts";

/** Where the services and their objects live (the manifests' namespace). */
export const SERVICES_NAMESPACE = "asterism-system";
/** The name the JoinService dials the KMS under (`ASTERISM_KMS_URL` in the manifests). */
export const KMS_DNS_NAME = `kms.${SERVICES_NAMESPACE}.svc`;

/** What init hands to the sink (all of it from the init request). */
export interface ClusterServicesInput {
  /** The cluster master secret; the caller wipes it afterwards. */
  readonly masterSecret: { readonly key: Uint8Array; readonly salt: Uint8Array };
  readonly measurementSalt: Uint8Array;
  /** What joining nodes must meet; without it the join configuration is left to `asterism apply`. */
  readonly joinPolicy?: AttestationPolicy;
  readonly kubernetesVersion: string;
  readonly components: readonly unknown[];
  /** `host:port` of the API server put into join tickets (the init's control-plane endpoint). */
  readonly apiServerEndpoint: string;
}

const secret = (name: string, data: Record<string, string>): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: SERVICES_NAMESPACE, labels: { "app.kubernetes.io/part-of": "asterism" } },
    type: "Opaque",
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, toBase64(utf8(v))])),
  }) as KubeObject;
const configMap = (name: string, data: Record<string, string>): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: SERVICES_NAMESPACE, labels: { "app.kubernetes.io/part-of": "asterism" } },
    data,
  }) as KubeObject;

/**
 * The Secrets and ConfigMap of one init: a fresh service CA (ECDSA P-256) whose key is dropped once both
 * certificates are issued. Call once per init and reuse the result across retries.
 */
export async function buildServiceObjects(input: ClusterServicesInput, now: Date): Promise<KubeObject[]> {
  const ca = await createClusterCa({ now });
  const kms = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    dnsNames: [KMS_DNS_NAME],
    now,
  });
  const join = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
  return [
    secret("kms-tls", { "tls.crt": kms.certPem, "tls.key": kms.keyPem, "ca.crt": ca.certPem }),
    secret("join-service-kms-client-tls", {
      "tls.crt": join.certPem,
      "tls.key": join.keyPem,
      "ca.crt": ca.certPem,
    }),
    secret("kms-master-secret", { "master-secret.json": serializeMasterSecret(input.masterSecret) }),
    configMap("join-service-config", { "api-server-endpoint": input.apiServerEndpoint }),
  ];
}

/** The data of a Secret or ConfigMap as bytes per key (Secrets base64, ConfigMaps text). */
function dataOf(o: KubeObject): Map<string, Uint8Array> {
  const data = (o as { data?: unknown }).data;
  const out = new Map<string, Uint8Array>();
  if (!isRecord(data)) return out;
  for (const [k, val] of Object.entries(data))
    if (typeof val === "string") out.set(k, o.kind === "Secret" ? fromBase64(val) : utf8(val));
  return out;
}

/** Same keys, same bytes (constant time per value: Secret values are key material). */
function sameData(a: KubeObject, b: KubeObject): boolean {
  const x = dataOf(a);
  const y = dataOf(b);
  if (x.size !== y.size) return false;
  let same = true;
  for (const [k, val] of x) same = constantTimeEqual(y.get(k) ?? new Uint8Array(0), val) && same;
  return same;
}

/** What {@link createServiceObjects} found and did, by `Kind namespace/name`. */
export interface ServiceObjectsResult {
  readonly created: readonly string[];
  /** Already there: with exactly this init's content (a retry), or a consistent TLS pair kept as it is. */
  readonly existing: readonly string[];
}

/** The two TLS Secrets: one CA, so they are created, kept or refused together. */
const TLS_PAIR = ["kms-tls", "join-service-kms-client-tls"];
const TLS_KEYS = ["ca.crt", "tls.crt", "tls.key"];

const refuse = (key: string, why: string) =>
  new BootstrapperError("MANIFESTS_APPLY_FAILED", "Cannot provision the control-plane services' objects", {
    expected: `${key} absent, or holding this init's content`,
    actual: `${key} ${why} (never overwritten: delete it only if it is stale)`,
  });

/** Both TLS Secrets present, with the TLS keys, and one CA (the same `ca.crt` bytes). */
function consistentPair(found: readonly KubeObject[]): boolean {
  const data = found.map(dataOf);
  const ca = data[0]?.get("ca.crt");
  return (
    ca !== undefined &&
    data.every(
      (d) =>
        d.size === TLS_KEYS.length &&
        TLS_KEYS.every((k) => d.has(k)) &&
        bytesEqual(d.get("ca.crt") ?? new Uint8Array(0), ca),
    )
  );
}

/**
 * Create the objects of {@link buildServiceObjects}, never overwriting. The TLS Secrets go as a pair:
 * both absent (or this init's own) are created; both present with one CA are kept as they are (a re-run
 * on a provisioned cluster); anything in between is refused, since a matching partner cannot be issued
 * without the first run's CA key. Every other object must be absent or hold exactly this init's content
 * (a different master secret is never kept nor replaced). Refusals are `MANIFESTS_APPLY_FAILED`, naming
 * the object but never its data; transport and API errors are thrown as they come (`KubeError`), so the
 * caller can retry an unreachable API server.
 */
export async function createServiceObjects(
  client: KubeClient,
  objects: readonly KubeObject[],
): Promise<ServiceObjectsResult> {
  const created: string[] = [];
  const existing: string[] = [];
  const tls = objects.filter((o) => TLS_PAIR.includes(o.metadata.name));
  const found = await Promise.all(
    tls.map((o) =>
      getObject(client, {
        apiVersion: o.apiVersion,
        kind: o.kind,
        namespace: SERVICES_NAMESPACE,
        name: o.metadata.name,
      }),
    ),
  );
  const foreign = found.some((f, i) => f !== undefined && !sameObject(f, tls[i] as KubeObject));
  if (foreign) {
    const present = found.filter((f): f is KubeObject => f !== undefined);
    if (present.length !== tls.length || !consistentPair(present))
      throw refuse(TLS_PAIR.join(" + "), "exist from another CA or only in part");
    existing.push(...tls.map(objectKey));
  }
  for (const o of objects) {
    if (foreign && tls.includes(o)) continue;
    const r = await createObject(client, o);
    const key = objectKey(o);
    if (r.created) created.push(key);
    else if (sameObject(r.object, o)) existing.push(key);
    else throw refuse(key, "exists with other content");
  }
  return { created, existing };
}

/** Same kind, Secret type and data (what {@link createObject} found is what this init would create). */
function sameObject(stored: KubeObject, built: KubeObject): boolean {
  return (
    stored.kind === built.kind &&
    (stored as { type?: unknown }).type === (built as { type?: unknown }).type &&
    sameData(stored, built)
  );
}

/**
 * The join configuration in cluster state from the init request, unless it is there already with the
 * same policy and salt (a retry). Another one is refused (`MANIFESTS_APPLY_FAILED`): it was written by
 * someone else and this init must not replace it. Returns whether it was written.
 */
export async function writeInitJoinConfig(
  state: ClusterState,
  input: ClusterServicesInput & { readonly joinPolicy: AttestationPolicy },
): Promise<boolean> {
  const current = await state.get("config", STATE_OBJECTS.joinConfig);
  if (current === undefined) {
    await writeJoinConfig(state, {
      policy: input.joinPolicy,
      measurementSalt: input.measurementSalt,
      kubernetesVersion: input.kubernetesVersion,
      components: input.components,
    });
    return true;
  }
  const stored = parseJoinConfigObject(current);
  const same =
    bytesEqual(serializePolicy(stored.policy), serializePolicy(input.joinPolicy)) &&
    bytesEqual(stored.measurementSalt, input.measurementSalt);
  if (!same)
    throw new BootstrapperError("MANIFESTS_APPLY_FAILED", "Cannot write the join configuration", {
      expected: `${STATE_OBJECTS.joinConfig} absent, or holding this init's policy and salt`,
      actual: "another join configuration (never overwritten at init)",
    });
  return false;
}
