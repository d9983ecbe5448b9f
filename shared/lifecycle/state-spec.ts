import { readFileSync } from "node:fs";
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

/**
 * Open the cluster state named by `ASTERISM_STATE`: `sqlite:<path>` (the local cluster's embedded backend)
 * or `kube:<kubeconfig path>[#<namespace>]` (Secrets and ConfigMaps in that namespace, default
 * `kube-system`, through the current context's server, CA and client credentials).
 */
export function openClusterState(spec: string): ClusterState & { close(): void } {
  if (spec.startsWith("sqlite:")) {
    const path = spec.slice("sqlite:".length);
    if (path === "")
      throw new LifecycleError("CONFIG_INVALID", "Cannot open cluster state", { expected: "sqlite:<path>" });
    return openSqliteState(path);
  }
  if (spec.startsWith("kube:")) {
    const [path, namespace = "kube-system"] = spec.slice("kube:".length).split("#") as [string, string?];
    return Object.assign(kubernetesState(readKubeconfig(path, namespace)), { close: () => {} });
  }
  throw new LifecycleError("CONFIG_INVALID", "Cannot parse ASTERISM_STATE", {
    expected: "sqlite:<path> or kube:<kubeconfig>[#namespace]",
    actual: JSON.stringify(spec.slice(0, 40)),
  });
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
