import { KubeError } from "./errors.ts";

/** One REST resource: how an apiVersion/kind maps to a URL path. */
export interface ResourceInfo {
  /** API group; "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  /** Lower-case plural used in URLs. */
  readonly plural: string;
  readonly namespaced: boolean;
}

/**
 * The resources Asterism applies or stores. A fixed table instead of discovery: the bootstrapper must not
 * depend on the API server's discovery answers to decide where to send key material, and an unknown kind is
 * a bug to fix here, not something to guess (plurals are irregular: `networkpolicies`).
 *
 * The order is the apply order: namespaces before what lives in them, RBAC and service accounts before the
 * workloads that use them, admission policies before their bindings.
 */
export const RESOURCES: readonly ResourceInfo[] = [
  { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRole",
    plural: "clusterroles",
    namespaced: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "ClusterRoleBinding",
    plural: "clusterrolebindings",
    namespaced: false,
  },
  { group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    kind: "RoleBinding",
    plural: "rolebindings",
    namespaced: true,
  },
  {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "ValidatingAdmissionPolicy",
    plural: "validatingadmissionpolicies",
    namespaced: false,
  },
  {
    group: "admissionregistration.k8s.io",
    version: "v1",
    kind: "ValidatingAdmissionPolicyBinding",
    plural: "validatingadmissionpolicybindings",
    namespaced: false,
  },
  { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  {
    group: "networking.k8s.io",
    version: "v1",
    kind: "NetworkPolicy",
    plural: "networkpolicies",
    namespaced: true,
  },
  { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true },
  { group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true },
];

/** `apiVersion` string of a resource (`v1`, `apps/v1`). */
export function apiVersionOf(r: ResourceInfo): string {
  return r.group === "" ? r.version : `${r.group}/${r.version}`;
}

/** The resource for an apiVersion/kind; throws `UNKNOWN_KIND` for anything outside {@link RESOURCES}. */
export function resourceFor(apiVersion: string, kind: string): ResourceInfo {
  const r = RESOURCES.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind);
  if (r === undefined)
    throw new KubeError("UNKNOWN_KIND", "Cannot map object to a REST resource", {
      expected: "a kind listed in RESOURCES",
      actual: `${apiVersion} ${kind}`,
    });
  return r;
}

/**
 * URL path of a collection (`name` absent) or of one object. Names and namespaces are URL-encoded, so a
 * hostile name cannot change the path.
 */
export function resourcePath(r: ResourceInfo, namespace: string | undefined, name?: string): string {
  const prefix = r.group === "" ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  let path = prefix;
  if (r.namespaced) {
    if (namespace === undefined)
      throw new KubeError("INVALID_OBJECT", `Cannot address ${r.kind}`, {
        expected: "metadata.namespace (namespaced kind)",
        actual: "none",
      });
    path += `/namespaces/${encodeURIComponent(namespace)}`;
  }
  path += `/${r.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  return path;
}
