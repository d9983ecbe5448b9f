import type { KubeObject } from "@asterism/kube-apply";
import * as v from "valibot";
import { RenderError } from "./errors.ts";

/**
 * A request as Kubernetes' RBAC authorizer sees it ("request attributes",
 * https://kubernetes.io/docs/reference/access-authn-authz/authorization/#review-your-request-attributes).
 */
export interface AccessRequest {
  readonly user: string;
  /** Extra groups; a ServiceAccount user's own groups are added automatically. */
  readonly groups?: readonly string[];
  readonly verb: string;
  /** `""` for the core group. */
  readonly apiGroup: string;
  /** Plural resource name, `resource/subresource` for subresources. */
  readonly resource: string;
  /** Absent for cluster-scoped resources and cluster-wide requests. */
  readonly namespace?: string;
  /** Absent for `create`, `list`, `watch` and `deletecollection`. */
  readonly name?: string;
}

const RuleSchema = v.strictObject({
  apiGroups: v.optional(v.array(v.string()), []),
  resources: v.optional(v.array(v.string()), []),
  resourceNames: v.optional(v.array(v.string()), []),
  verbs: v.array(v.string()),
  nonResourceURLs: v.optional(v.array(v.string())),
});
const RoleSchema = v.looseObject({
  kind: v.picklist(["Role", "ClusterRole"]),
  metadata: v.looseObject({ name: v.string(), namespace: v.optional(v.string()) }),
  rules: v.optional(v.array(RuleSchema), []),
  aggregationRule: v.optional(v.undefined()),
});
const BindingSchema = v.looseObject({
  kind: v.picklist(["RoleBinding", "ClusterRoleBinding"]),
  metadata: v.looseObject({ name: v.string(), namespace: v.optional(v.string()) }),
  roleRef: v.looseObject({ kind: v.picklist(["Role", "ClusterRole"]), name: v.string() }),
  subjects: v.optional(
    v.array(
      v.looseObject({
        kind: v.picklist(["ServiceAccount", "User", "Group"]),
        name: v.string(),
        namespace: v.optional(v.string()),
      }),
    ),
    [],
  ),
});
type Rule = v.InferOutput<typeof RuleSchema>;

/** The user name Kubernetes gives a ServiceAccount's token. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** Groups of a user: a ServiceAccount's implicit groups, plus `system:authenticated`. */
function groupsOf(req: AccessRequest): Set<string> {
  const groups = new Set([...(req.groups ?? []), "system:authenticated"]);
  const sa = /^system:serviceaccount:([^:]+):[^:]+$/.exec(req.user);
  if (sa !== null) {
    groups.add("system:serviceaccounts");
    groups.add(`system:serviceaccounts:${sa[1]}`);
  }
  return groups;
}

const has = (list: readonly string[], value: string) => list.includes("*") || list.includes(value);

/** RBAC's rule match: verb, group, resource, and the name when the rule lists names. */
function ruleAllows(rule: Rule, req: AccessRequest): boolean {
  if (rule.nonResourceURLs !== undefined && rule.resources.length === 0) return false;
  if (!has(rule.verbs, req.verb) || !has(rule.apiGroups, req.apiGroup) || !has(rule.resources, req.resource))
    return false;
  // A rule with resourceNames never matches a request without a name (create, list, watch).
  return rule.resourceNames.length === 0 || (req.name !== undefined && rule.resourceNames.includes(req.name));
}

/**
 * A small RBAC authorizer over a set of objects (Roles, ClusterRoles and their bindings; everything else
 * is ignored), with Kubernetes' semantics: a RoleBinding grants its role's rules in its own namespace only
 * (a ClusterRole bound by a RoleBinding too); a ClusterRoleBinding grants them everywhere, cluster-scoped
 * resources included; subjects match by ServiceAccount, user or group; a rule with `resourceNames` only
 * matches requests for those names. Aggregated ClusterRoles are refused (`UNSUPPORTED`): their rules come
 * from other objects at run time.
 *
 * @example
 * const allowed = createRbacAuthorizer(renderKustomization("k8s/overlays/qemu"));
 * allowed({ user: serviceAccountUser("asterism-system", "kms"), verb: "get", apiGroup: "", resource: "secrets", namespace: "asterism-system" });
 */
export function createRbacAuthorizer(objects: readonly KubeObject[]): (req: AccessRequest) => boolean {
  const roles = objects
    .filter((o) => o.kind === "Role" || o.kind === "ClusterRole")
    .map((o) => {
      const r = v.safeParse(RoleSchema, o);
      if (!r.success)
        throw new RenderError("UNSUPPORTED", "Cannot evaluate a role", {
          expected: "rules without aggregation",
          actual: `${o.kind} ${o.metadata.name}`,
        });
      return r.output;
    });
  const bindings = objects
    .filter((o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding")
    .map((o) => v.parse(BindingSchema, o));
  const rulesOf = (kind: "Role" | "ClusterRole", name: string, namespace: string | undefined): Rule[] =>
    roles
      .filter(
        (r) =>
          r.kind === kind &&
          r.metadata.name === name &&
          (kind === "ClusterRole" || r.metadata.namespace === namespace),
      )
      .flatMap((r) => r.rules);

  return (req) => {
    const groups = groupsOf(req);
    return bindings.some((b) => {
      const ns = b.metadata.namespace;
      if (b.kind === "RoleBinding" && req.namespace !== ns) return false;
      if (b.kind === "ClusterRoleBinding" && b.roleRef.kind !== "ClusterRole") return false;
      const subject = b.subjects.some((s) =>
        s.kind === "ServiceAccount"
          ? req.user === serviceAccountUser(s.namespace ?? ns ?? "", s.name)
          : s.kind === "User"
            ? req.user === s.name
            : groups.has(s.name),
      );
      return subject && rulesOf(b.roleRef.kind, b.roleRef.name, ns).some((rule) => ruleAllows(rule, req));
    });
  };
}
