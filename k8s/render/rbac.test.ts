import { describe, expect, test } from "bun:test";
import type { KubeObject } from "@asterism/kube-apply";
import { type AccessRequest, createRbacAuthorizer, RenderError, serviceAccountUser } from "./index.ts";

const rbac = "rbac.authorization.k8s.io/v1";
const role = (kind: string, name: string, namespace: string | undefined, rules: unknown[]): KubeObject =>
  ({
    apiVersion: rbac,
    kind,
    metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
    rules,
  }) as KubeObject;
const binding = (
  kind: string,
  name: string,
  namespace: string | undefined,
  roleRef: { kind: string; name: string },
  subjects: unknown[],
): KubeObject =>
  ({
    apiVersion: rbac,
    kind,
    metadata: { name, ...(namespace === undefined ? {} : { namespace }) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", ...roleRef },
    subjects,
  }) as KubeObject;

const SA = serviceAccountUser("app", "svc");
const OBJECTS: KubeObject[] = [
  role("Role", "named", "app", [
    { apiGroups: [""], resources: ["configmaps"], resourceNames: ["one"], verbs: ["get", "update"] },
    { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
  ]),
  binding("RoleBinding", "named", "app", { kind: "Role", name: "named" }, [
    { kind: "ServiceAccount", name: "svc", namespace: "app" },
  ]),
  // A Role of another namespace with the same name must not be picked up by this binding.
  role("Role", "named", "other", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]),
  role("ClusterRole", "reader", undefined, [
    { apiGroups: ["apps"], resources: ["daemonsets"], verbs: ["list"] },
  ]),
  binding("RoleBinding", "reader-in-tools", "tools", { kind: "ClusterRole", name: "reader" }, [
    { kind: "Group", name: "system:serviceaccounts:app" },
  ]),
  role("ClusterRole", "nodes", undefined, [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }]),
  binding("ClusterRoleBinding", "nodes", undefined, { kind: "ClusterRole", name: "nodes" }, [
    { kind: "User", name: "alice" },
  ]),
];
const allowed = createRbacAuthorizer(OBJECTS);
const req = (r: Partial<AccessRequest>): AccessRequest => ({
  user: SA,
  verb: "get",
  apiGroup: "",
  resource: "configmaps",
  namespace: "app",
  ...r,
});

const cases: [string, Partial<AccessRequest>, boolean][] = [
  ["named rule, its name", { name: "one" }, true],
  ["named rule, its second verb", { verb: "update", name: "one" }, true],
  ["named rule, another name", { name: "two" }, false],
  ["named rule never matches a request without a name (list)", { verb: "list" }, false],
  ["named rule, a verb it does not list", { verb: "delete", name: "one" }, false],
  ["unnamed create", { verb: "create", resource: "secrets" }, true],
  ["unnamed create, another verb", { verb: "get", resource: "secrets", name: "x" }, false],
  ["a RoleBinding grants only in its namespace", { namespace: "other", name: "one" }, false],
  ["a Role of another namespace with the same name is not used", { resource: "pods", name: "p" }, false],
  ["another ServiceAccount", { user: serviceAccountUser("app", "else"), name: "one" }, false],
  [
    "a ServiceAccount of another namespace with the same name",
    { user: serviceAccountUser("x", "svc"), name: "one" },
    false,
  ],
  [
    "ClusterRole through a RoleBinding to the account's group, in the binding's namespace",
    { verb: "list", apiGroup: "apps", resource: "daemonsets", namespace: "tools" },
    true,
  ],
  [
    "…not in another namespace",
    { verb: "list", apiGroup: "apps", resource: "daemonsets", namespace: "app" },
    false,
  ],
  [
    "…not cluster-wide",
    { verb: "list", apiGroup: "apps", resource: "daemonsets", namespace: undefined },
    false,
  ],
  ["wrong API group", { verb: "list", apiGroup: "", resource: "daemonsets", namespace: "tools" }, false],
  [
    "ClusterRoleBinding: cluster-scoped resource",
    { user: "alice", resource: "nodes", namespace: undefined, name: "n" },
    true,
  ],
  [
    "ClusterRoleBinding: another user",
    { user: "bob", resource: "nodes", namespace: undefined, name: "n" },
    false,
  ],
];

describe("createRbacAuthorizer", () => {
  test.each(cases)("%s", (_name, r, want) => {
    expect(allowed(req(r))).toBe(want);
  });

  test("wildcards match everything they stand for", () => {
    const all = createRbacAuthorizer([
      role("Role", "all", "app", [{ apiGroups: ["*"], resources: ["*"], verbs: ["*"] }]),
      binding("RoleBinding", "all", "app", { kind: "Role", name: "all" }, [{ kind: "User", name: "u" }]),
    ]);
    expect(all(req({ user: "u", verb: "deletecollection", apiGroup: "apps", resource: "deployments" }))).toBe(
      true,
    );
    expect(all(req({ user: "u", namespace: "kube-system" }))).toBe(false);
  });

  test("an aggregated ClusterRole is refused, not evaluated without its rules", () => {
    const aggregated = {
      ...role("ClusterRole", "agg", undefined, []),
      aggregationRule: { clusterRoleSelectors: [{ matchLabels: { a: "b" } }] },
    } as KubeObject;
    let err: unknown;
    try {
      createRbacAuthorizer([aggregated]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RenderError);
    expect((err as RenderError).code).toBe("UNSUPPORTED");
  });
});
