/**
 * What a container of the rendered manifests would see at run time, computed from the pod spec the way the
 * kubelet builds it: its environment (values, `fieldRef`, `configMapKeyRef` / `secretKeyRef`) and its
 * file system mounts (Secret / ConfigMap volumes with the keys they project, hostPath, emptyDir, and the
 * ServiceAccount token the kubelet mounts when `automountServiceAccountToken` allows it). Test-only: used
 * by drift.test.ts to validate the environment with the app's own schema and start the binary with it.
 *
 * Only what our manifests use is modelled; anything else (envFrom, subPath, projected volumes, `$(VAR)`
 * expansion) throws, so a manifest change the model does not understand fails the test instead of
 * being skipped.
 */
import type { KubeObject } from "@asterism/kube-apply";
import * as v from "valibot";

/** Where the kubelet mounts a pod's ServiceAccount token, CA and namespace. */
export const SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

const KeyRefSchema = v.strictObject({ name: v.string(), key: v.string(), optional: v.optional(v.boolean()) });
const EnvVarSchema = v.strictObject({
  name: v.string(),
  value: v.optional(v.string()),
  valueFrom: v.optional(
    v.strictObject({
      fieldRef: v.optional(v.strictObject({ fieldPath: v.string(), apiVersion: v.optional(v.string()) })),
      configMapKeyRef: v.optional(KeyRefSchema),
      secretKeyRef: v.optional(KeyRefSchema),
    }),
  ),
});
const ItemsSchema = v.optional(v.array(v.strictObject({ key: v.string(), path: v.string() })));
const VolumeSchema = v.strictObject({
  name: v.string(),
  secret: v.optional(
    v.strictObject({
      secretName: v.string(),
      items: ItemsSchema,
      defaultMode: v.optional(v.number()),
      optional: v.optional(v.boolean()),
    }),
  ),
  configMap: v.optional(
    v.strictObject({
      name: v.string(),
      items: ItemsSchema,
      defaultMode: v.optional(v.number()),
      optional: v.optional(v.boolean()),
    }),
  ),
  hostPath: v.optional(v.strictObject({ path: v.string(), type: v.optional(v.string()) })),
  emptyDir: v.optional(v.strictObject({ medium: v.optional(v.string()), sizeLimit: v.optional(v.string()) })),
});
const ContainerSchema = v.looseObject({
  name: v.string(),
  env: v.optional(v.array(EnvVarSchema), []),
  envFrom: v.optional(v.undefined_("envFrom is not modelled")),
  volumeMounts: v.optional(
    v.array(
      v.strictObject({
        name: v.string(),
        mountPath: v.string(),
        readOnly: v.optional(v.boolean()),
      }),
    ),
    [],
  ),
  ports: v.optional(v.array(v.looseObject({ name: v.optional(v.string()), containerPort: v.number() })), []),
});
const PodSpecSchema = v.looseObject({
  serviceAccountName: v.optional(v.string()),
  automountServiceAccountToken: v.optional(v.boolean()),
  containers: v.array(ContainerSchema),
  initContainers: v.optional(v.undefined_("initContainers are not modelled")),
  volumes: v.optional(v.array(VolumeSchema), []),
});

export type EnvVar = v.InferOutput<typeof EnvVarSchema>;
export type Volume = v.InferOutput<typeof VolumeSchema>;
export type Container = v.InferOutput<typeof ContainerSchema>;
export type PodSpec = v.InferOutput<typeof PodSpecSchema>;

/** A container of ours: the workload it belongs to, its pod spec and itself. */
export interface WorkloadContainer {
  readonly workload: string;
  readonly namespace: string;
  readonly pod: PodSpec;
  readonly container: Container;
  /** The ServiceAccount's own `automountServiceAccountToken`, which the pod's overrides. */
  readonly accountAutomount: boolean | undefined;
}

const WORKLOADS = new Set(["DaemonSet", "Deployment", "StatefulSet", "Job", "Pod"]);

/** Every container of every workload in `objects` (only DaemonSets today; any workload kind is read). */
export function workloadContainers(objects: readonly KubeObject[]): WorkloadContainer[] {
  return objects
    .filter((o) => WORKLOADS.has(o.kind))
    .flatMap((o) => {
      const raw =
        o.kind === "Pod"
          ? (o as Record<string, unknown>)["spec"]
          : ((o as { spec?: { template?: { spec?: unknown } } }).spec?.template?.spec ?? undefined);
      const pod = v.parse(PodSpecSchema, raw);
      const namespace = o.metadata.namespace ?? "default";
      const account = objects.find(
        (a) =>
          a.kind === "ServiceAccount" &&
          a.metadata.name === (pod.serviceAccountName ?? "default") &&
          a.metadata.namespace === namespace,
      ) as { automountServiceAccountToken?: boolean } | undefined;
      return pod.containers.map((container) => ({
        workload: `${o.kind} ${namespace}/${o.metadata.name}`,
        namespace,
        pod,
        container,
        accountAutomount: account?.automountServiceAccountToken,
      }));
    });
}

/** A ConfigMap or Secret a container reads, and how. */
export interface ObjectReference {
  readonly kind: "Secret" | "ConfigMap";
  readonly name: string;
  /** The keys read; undefined = every key of the object (a volume without `items`). */
  readonly keys: readonly string[] | undefined;
  readonly optional: boolean;
  readonly via: string;
}

/** Every ConfigMap/Secret the container reads through its environment or its mounted volumes. */
export function objectReferences(w: WorkloadContainer): ObjectReference[] {
  const out: ObjectReference[] = [];
  for (const e of w.container.env) {
    const cm = e.valueFrom?.configMapKeyRef;
    const s = e.valueFrom?.secretKeyRef;
    if (cm)
      out.push({
        kind: "ConfigMap",
        name: cm.name,
        keys: [cm.key],
        optional: cm.optional ?? false,
        via: e.name,
      });
    if (s)
      out.push({ kind: "Secret", name: s.name, keys: [s.key], optional: s.optional ?? false, via: e.name });
  }
  for (const m of mounts(w)) {
    const vol = m.volume;
    if (vol?.secret)
      out.push({
        kind: "Secret",
        name: vol.secret.secretName,
        keys: vol.secret.items?.map((i) => i.key),
        optional: vol.secret.optional ?? false,
        via: `volume ${vol.name}`,
      });
    if (vol?.configMap)
      out.push({
        kind: "ConfigMap",
        name: vol.configMap.name,
        keys: vol.configMap.items?.map((i) => i.key),
        optional: vol.configMap.optional ?? false,
        via: `volume ${vol.name}`,
      });
  }
  return out;
}

/** A mount of the container; `volume` is undefined for the kubelet's ServiceAccount token mount. */
export interface Mount {
  readonly mountPath: string;
  readonly readOnly: boolean;
  readonly volume: Volume | undefined;
}

/** True when the kubelet mounts the ServiceAccount token (the pod's setting overrides the account's). */
export function tokenMounted(w: WorkloadContainer): boolean {
  return w.pod.automountServiceAccountToken ?? w.accountAutomount ?? true;
}

/** The container's mounts, with the token mount the kubelet adds. Unknown volume names throw. */
export function mounts(w: WorkloadContainer): Mount[] {
  const out: Mount[] = w.container.volumeMounts.map((m) => {
    const volume = w.pod.volumes.find((x) => x.name === m.name);
    if (volume === undefined) throw new Error(`${w.workload}: mount of unknown volume ${m.name}`);
    return { mountPath: m.mountPath, readOnly: m.readOnly ?? false, volume };
  });
  if (tokenMounted(w)) out.push({ mountPath: SERVICE_ACCOUNT_MOUNT, readOnly: true, volume: undefined });
  return out;
}

/** The mount a container path lies in (the deepest one) and the path inside it ("" for the mount itself). */
export function resolvePath(ms: readonly Mount[], path: string): { mount: Mount; rel: string } | undefined {
  let best: { mount: Mount; rel: string } | undefined;
  for (const m of ms) {
    const base = m.mountPath.replace(/\/$/, "");
    if (path !== base && !path.startsWith(`${base}/`)) continue;
    if (best === undefined || base.length > best.mount.mountPath.length)
      best = { mount: m, rel: path.slice(base.length).replace(/^\//, "") };
  }
  return best;
}

/**
 * The file names a Secret/ConfigMap volume projects: its `items` paths, or every key of the object as
 * documented (`keysOf`). Undefined for other volumes.
 */
export function projectedFiles(
  volume: Volume,
  keysOf: (kind: "Secret" | "ConfigMap", name: string) => readonly string[] | undefined,
): Map<string, string> | undefined {
  const src = volume.secret
    ? { kind: "Secret" as const, name: volume.secret.secretName, items: volume.secret.items }
    : volume.configMap
      ? { kind: "ConfigMap" as const, name: volume.configMap.name, items: volume.configMap.items }
      : undefined;
  if (src === undefined) return undefined;
  if (src.items) return new Map(src.items.map((i) => [i.path, i.key]));
  return new Map((keysOf(src.kind, src.name) ?? []).map((k) => [k, k]));
}

/** How a value is resolved when the container's environment is built. */
export interface EnvResolver {
  /** `fieldRef`: a placeholder for the pod field. */
  field(fieldPath: string): string;
  /** `configMapKeyRef` / `secretKeyRef`: the value, or undefined when the object or key does not exist. */
  key(kind: "Secret" | "ConfigMap", name: string, key: string): string | undefined;
}

/**
 * The container's environment as the kubelet builds it. A missing non-optional key throws (the kubelet
 * would refuse to start the container: CreateContainerConfigError); a missing optional one is unset.
 */
export function containerEnvironment(w: WorkloadContainer, resolve: EnvResolver): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of w.container.env) {
    if (e.value !== undefined) {
      if (e.value.includes("$("))
        throw new Error(`${w.workload}: ${e.name} uses $(VAR) expansion (not modelled)`);
      env[e.name] = e.value;
      continue;
    }
    const from = e.valueFrom;
    if (from?.fieldRef) {
      env[e.name] = resolve.field(from.fieldRef.fieldPath);
      continue;
    }
    const ref = from?.configMapKeyRef ?? from?.secretKeyRef;
    if (ref === undefined)
      throw new Error(`${w.workload}: ${e.name} has neither a value nor a modelled source`);
    const kind = from?.configMapKeyRef ? "ConfigMap" : "Secret";
    const value = resolve.key(kind, ref.name, ref.key);
    if (value !== undefined) env[e.name] = value;
    else if (!ref.optional)
      throw new Error(`${w.workload}: ${e.name} needs ${kind} ${ref.name} key ${ref.key}`);
  }
  return env;
}

/** An object the operator is told to create (docs/deploy.md step 5): kind, name, data keys. */
export interface DocumentedObject {
  readonly kind: "Secret" | "ConfigMap";
  readonly name: string;
  readonly keys: readonly string[];
}

/**
 * The objects docs/deploy.md step 5 tells the operator to create, read from its `kubectl create secret
 * generic` / `kubectl create configmap` commands (`--from-file=<key>=…`, `--from-literal=<key>=…`).
 */
export function documentedObjects(markdown: string): DocumentedObject[] {
  const step = /^## 5\. .*$([\s\S]*?)^## 6\. /m.exec(markdown)?.[1];
  if (step === undefined) throw new Error("docs/deploy.md has no step 5");
  const commands = step.replace(/\\\n\s*/g, " ").split("\n");
  const out: DocumentedObject[] = [];
  for (const line of commands) {
    const m = /kubectl -n asterism-system create (secret generic|configmap) ([a-z0-9-]+)(.*)$/.exec(line);
    if (m === null) continue;
    const keys = [...(m[3] ?? "").matchAll(/--from-(?:file|literal)=([-._a-zA-Z0-9]+)=/g)].map(
      (k) => k[1] as string,
    );
    out.push({ kind: m[1] === "configmap" ? "ConfigMap" : "Secret", name: m[2] as string, keys });
  }
  return out;
}
