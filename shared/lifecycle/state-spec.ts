import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ClusterState, type KubeConnection, kubernetesState, openSqliteState } from "@asterism/state";
import * as v from "valibot";
import { parse as parseYaml } from "yaml";
import { LifecycleError } from "./errors.ts";

const KubeconfigSchema = v.object({
  "current-context": v.optional(v.string()),
  clusters: v.array(
    v.object({
      name: v.string(),
      cluster: v.object({ server: v.string(), "certificate-authority-data": v.optional(v.string()) }),
    }),
  ),
  users: v.optional(
    v.array(
      v.object({
        name: v.string(),
        user: v.object({
          "client-certificate-data": v.optional(v.string()),
          "client-key-data": v.optional(v.string()),
          token: v.optional(v.string()),
        }),
      }),
    ),
    [],
  ),
  contexts: v.optional(
    v.array(
      v.object({
        name: v.string(),
        context: v.object({ cluster: v.string(), user: v.optional(v.string()) }),
      }),
    ),
    [],
  ),
});

const b64text = (s: string | undefined) =>
  s === undefined ? undefined : Buffer.from(s, "base64").toString("utf8");

/** Where the kubelet mounts a pod's ServiceAccount token (`token`), API server CA (`ca.crt`) and namespace. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** How {@link openClusterState} and {@link kubeConnectionOf} find in-cluster credentials (tests point them elsewhere). */
export interface InClusterOptions {
  /** Default {@link SERVICE_ACCOUNT_DIR}. */
  readonly serviceAccountDir?: string;
  /** Where `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT` come from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const IN_CLUSTER = "kube-in-cluster:";
/** The namespace of the cluster's state objects (k8s/base/namespace.yaml). */
const CLUSTER_STATE_NAMESPACE = "asterism-system";
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Open the cluster state named by `ASTERISM_STATE`:
 * - `sqlite:<path>`: the local cluster's embedded backend;
 * - `kube:<kubeconfig path>[#<namespace>]`: Secrets and ConfigMaps in that namespace (default
 *   `asterism-system`, where the JoinService and KMS read theirs; an operator's `asterism apply
 *   --cluster-state kube:<admin.conf>` must land there) through the kubeconfig's current context;
 * - `kube-in-cluster:<namespace>`: the same from inside a pod, with the pod's own ServiceAccount
 *   ({@link inClusterConnection}).
 */
export function openClusterState(
  spec: string,
  opts: InClusterOptions = {},
): ClusterState & { close(): void } {
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length);
    if (path === "")
      throw new LifecycleError("CONFIG_INVALID", "Cannot open cluster state", { expected: "sqlite:<path>" });
    return openSqliteState(path);
  }
  const conn = kubeConnectionOf(spec, undefined, opts);
  if (conn !== undefined) return Object.assign(kubernetesState(conn), { close: () => {} });
  throw new LifecycleError("CONFIG_INVALID", "Cannot parse ASTERISM_STATE", {
    expected: "sqlite:<path>, kube:<kubeconfig>[#namespace] or kube-in-cluster:<namespace>",
    actual: JSON.stringify(spec.slice(0, 40)),
  });
}

/**
 * The API server connection of a Kubernetes state spec (`kube:` or `kube-in-cluster:`), for `namespace`
 * (default: the spec's own), or undefined for any other spec. Services use it to reach a second
 * namespace with the same credentials (the JoinService's bootstrap tokens in kube-system).
 */
export function kubeConnectionOf(
  spec: string,
  namespace?: string,
  opts: InClusterOptions = {},
): KubeConnection | undefined {
  if (spec.startsWith("kube:")) {
    const [path, own = CLUSTER_STATE_NAMESPACE] = spec.slice("kube:".length).split("#") as [string, string?];
    return readKubeconfig(path, namespace ?? own);
  }
  if (spec.startsWith(IN_CLUSTER))
    return inClusterConnection(namespace ?? spec.slice(IN_CLUSTER.length), opts);
  return undefined;
}

/**
 * The connection of a process running in a pod, as client-go's in-cluster configuration builds it: the
 * API server from `KUBERNETES_SERVICE_HOST` / `KUBERNETES_SERVICE_PORT` (set by the kubelet), trusted
 * through the mounted `ca.crt`, authenticated with the mounted ServiceAccount token, re-read on every
 * request because the kubelet rotates it (`tokenFile`). Fails at once (`CONFIG_INVALID`) when any of it
 * is missing, so a pod without its token does not start half-configured.
 */
export function inClusterConnection(namespace: string, opts: InClusterOptions = {}): KubeConnection {
  const env = opts.env ?? process.env;
  const dir = opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  if (!NAMESPACE.test(namespace) || namespace.length > 63)
    throw new LifecycleError("CONFIG_INVALID", "Cannot use the in-cluster state", {
      expected: "kube-in-cluster:<namespace>",
      actual: JSON.stringify(namespace.slice(0, 70)),
    });
  const host = env["KUBERNETES_SERVICE_HOST"] ?? "";
  const port = env["KUBERNETES_SERVICE_PORT"] ?? "";
  if (!/^[0-9A-Za-z.:-]{1,253}$/.test(host) || !/^\d{1,5}$/.test(port) || Number(port) > 65535)
    throw new LifecycleError("CONFIG_INVALID", "Cannot use the in-cluster state", {
      expected: "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT (set by the kubelet in every pod)",
      actual: `host ${JSON.stringify(host.slice(0, 64))}, port ${JSON.stringify(port.slice(0, 8))}`,
    });
  const read = (file: string) => {
    try {
      return readFileSync(join(dir, file), "utf8");
    } catch (cause) {
      throw new LifecycleError("CONFIG_INVALID", "Cannot use the in-cluster state", {
        expected: `the pod's ServiceAccount ${file} in ${dir} (automountServiceAccountToken)`,
        actual: (cause as NodeJS.ErrnoException).code ?? "unreadable",
        cause,
      });
    }
  };
  const ca = read("ca.crt");
  read("token"); // present now; re-read for every request
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    namespace,
    ca,
    tokenFile: join(dir, "token"),
  };
}

/**
 * The connection a kubeconfig describes (current context, else the first): server, CA and client
 * certificate or token, for `namespace`. Only inline (`*-data`) credentials are read.
 */
export function readKubeconfig(path: string, namespace: string): KubeConnection {
  let cfg: v.InferOutput<typeof KubeconfigSchema>;
  try {
    cfg = v.parse(KubeconfigSchema, parseYaml(readFileSync(path, "utf8")));
  } catch (cause) {
    throw new LifecycleError("CONFIG_INVALID", `Cannot read kubeconfig ${path}`, { cause });
  }
  const ctx = cfg.contexts.find((c) => c.name === cfg["current-context"]) ?? cfg.contexts[0];
  const cluster = cfg.clusters.find((c) => c.name === ctx?.context.cluster) ?? cfg.clusters[0];
  const user = cfg.users.find((u) => u.name === ctx?.context.user) ?? cfg.users[0];
  if (cluster === undefined)
    throw new LifecycleError("CONFIG_INVALID", `Cannot use kubeconfig ${path}`, { expected: "a cluster" });
  const ca = b64text(cluster.cluster["certificate-authority-data"]);
  const cert = b64text(user?.user["client-certificate-data"]);
  const key = b64text(user?.user["client-key-data"]);
  const token = user?.user.token;
  return {
    server: cluster.cluster.server,
    namespace,
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(token ? { token } : {}),
  };
}
