import { describe, expect, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type KubeObject, validateObject } from "@asterism/kube-apply";
import { repoRoot } from "@asterism/testing";
import { checkPolicy, listOverlays, parseManifestFile, renderKustomization } from "../../k8s/render/index.ts";

const K8S = join(repoRoot, "k8s");
const OVERLAYS = listOverlays(K8S);
const TARGETS = [
  ["base", join(K8S, "base")] as const,
  ...OVERLAYS.map((o) => [o, join(K8S, "overlays", o)] as const),
];
const VARIANTS: Record<string, string> = {
  qemu: "qemu-vtpm",
  aws: "aws-sev-snp",
  azure: "azure-sev-snp",
  gcp: "gcp-sev-snp",
};

type Rec = Record<string, unknown>;
const find = (objs: KubeObject[], kind: string, name: string, namespace = "asterism-system") => {
  const o = objs.find(
    (x) => x.kind === kind && x.metadata.name === name && (x.metadata.namespace ?? "") === namespace,
  );
  if (o === undefined) throw new Error(`missing ${kind} ${namespace}/${name}`);
  return o as KubeObject & Rec;
};
const podSpec = (ds: Rec) => ((ds["spec"] as Rec)["template"] as Rec)["spec"] as Rec;
const container = (ds: Rec) => (podSpec(ds)["containers"] as Rec[])[0] as Rec;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return f.endsWith(".yaml") && f !== "kustomization.yaml" ? [p] : [];
  });
}

test("the four variant overlays exist", () => {
  expect(OVERLAYS).toEqual(["aws", "azure", "gcp", "qemu"]);
});

describe("every base manifest file validates on its own (kubernetes-models)", () => {
  test.each(yamlFiles(join(K8S, "base")).map((f) => [f.slice(K8S.length + 1), f]))("%s", (_name, file) => {
    const objects = parseManifestFile(file);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) validateObject(o);
  });
});

describe.each(TARGETS)("%s renders", (name, dir) => {
  const objects = renderKustomization(dir);

  test("every object validates against its kubernetes-models schema", () => {
    expect(objects.length).toBeGreaterThan(20);
    for (const o of objects) validateObject(o);
  });

  test("passes the policy checks", () => {
    expect(checkPolicy(objects)).toEqual([]);
  });

  test("the owners' anchor: read by the JoinService from a write-once ConfigMap (docs/owner.md)", () => {
    const ref = { configMapKeyRef: { name: "asterism-owner-anchor", key: "anchor", optional: true } };
    const envOf = (ds: Rec, n: string) => (container(ds)["env"] as Rec[]).find((e) => e["name"] === n);
    expect(envOf(find(objects, "DaemonSet", "join-service"), "ASTERISM_OWNER_ANCHOR")).toEqual({
      name: "ASTERISM_OWNER_ANCHOR",
      valueFrom: ref,
    });
    // The KMS reads its anchor only for `kms rotate-kek` (user-managed mode), which these manifests do
    // not deploy; the serving cluster-mode KMS never reads it.
    expect(envOf(find(objects, "DaemonSet", "kms"), "KMS_OWNER_ANCHOR")).toBeUndefined();
    const vap = find(objects, "ValidatingAdmissionPolicy", "asterism-owner-anchor-write-once", "")[
      "spec"
    ] as Rec;
    expect((vap["matchConstraints"] as Rec)["resourceRules"]).toEqual([
      { apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE", "DELETE"], resources: ["configmaps"] },
    ]);
    expect(JSON.stringify(vap["matchConditions"])).toContain("request.name == 'asterism-owner-anchor'");
    expect(
      find(objects, "ValidatingAdmissionPolicyBinding", "asterism-owner-anchor-write-once", "")["spec"],
    ).toEqual({
      policyName: "asterism-owner-anchor-write-once",
      validationActions: ["Deny"],
    });
  });

  test("services: KMS ClusterIP only; JoinService and VerificationService NodePorts with Local traffic", () => {
    const services = objects.filter((o) => o.kind === "Service") as Rec[];
    expect(services.map((s) => (s["metadata"] as Rec)["name"]).sort()).toEqual([
      "join-service",
      "kms",
      "verification-service",
    ]);
    const spec = (n: string) => find(objects, "Service", n)["spec"] as Rec;
    expect(spec("kms")["type"]).toBe("ClusterIP");
    expect((spec("kms")["ports"] as Rec[]).every((p) => p["nodePort"] === undefined)).toBe(true);
    expect(spec("join-service")).toMatchObject({ type: "NodePort", externalTrafficPolicy: "Local" });
    expect((spec("join-service")["ports"] as Rec[])[0]?.["nodePort"]).toBe(30090);
    expect(spec("verification-service")).toMatchObject({ type: "NodePort", externalTrafficPolicy: "Local" });
    expect((spec("verification-service")["ports"] as Rec[])[0]?.["nodePort"]).toBe(30080);
  });

  test("RBAC: no ClusterRoles, no wildcards, no escalation verbs (exact rights: rbac.test.ts)", () => {
    expect(objects.filter((o) => o.kind === "ClusterRole" || o.kind === "ClusterRoleBinding")).toEqual([]);
    const roles = objects.filter((o) => o.kind === "Role") as Rec[];
    for (const role of roles) {
      for (const rule of role["rules"] as Rec[]) {
        const verbs = rule["verbs"] as string[];
        for (const field of ["verbs", "resources", "apiGroups"])
          expect(rule[field] as string[]).not.toContain("*");
        for (const v of ["watch", "delete", "deletecollection", "patch", "escalate", "bind", "impersonate"])
          expect(verbs).not.toContain(v);
      }
    }
    // Only the JoinService has API rights; its ConfigMap writes are narrowed by an admission policy.
    const subjects = objects
      .filter((o) => o.kind === "RoleBinding")
      .flatMap((b) => (b as Rec)["subjects"] as Rec[]);
    expect(new Set(subjects.map((s) => s["name"]))).toEqual(new Set(["join-service"]));
    const writes = find(objects, "ValidatingAdmissionPolicy", "asterism-join-service-state-writes", "");
    expect(JSON.stringify(writes["spec"])).toContain("system:serviceaccount:asterism-system:join-service");
    find(objects, "ValidatingAdmissionPolicyBinding", "asterism-join-service-state-writes", "");
    const kubeSystem = find(objects, "Role", "asterism-join-service", "kube-system")["rules"] as Rec[];
    expect(kubeSystem.filter((r) => (r["verbs"] as string[]).includes("create"))).toEqual([
      { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
    ]);
    // The unrestricted `create secrets` is narrowed by an admission policy bound to the join-service SA.
    const vap = find(objects, "ValidatingAdmissionPolicy", "asterism-join-service-bootstrap-tokens-only", "");
    expect(JSON.stringify(vap["spec"])).toContain("system:serviceaccount:asterism-system:join-service");
    find(objects, "ValidatingAdmissionPolicyBinding", "asterism-join-service-bootstrap-tokens-only", "");
    // The VerificationService has no API rights and no token.
    const bindings = objects.filter((o) => o.kind === "RoleBinding") as Rec[];
    for (const b of bindings)
      for (const s of b["subjects"] as Rec[]) expect(s["name"]).not.toBe("verification-service");
    // The KMS and the VerificationService never talk to the API: no token in their pods.
    for (const n of ["kms", "verification-service"]) {
      expect(find(objects, "ServiceAccount", n)["automountServiceAccountToken"]).toBe(false);
      expect(podSpec(find(objects, "DaemonSet", n))["automountServiceAccountToken"]).toBe(false);
    }
  });

  test("NetworkPolicies: default deny, and only join-service pods and the node subnet reach the KMS", () => {
    const deny = find(objects, "NetworkPolicy", "default-deny")["spec"] as Rec;
    expect(deny).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    const toKms = objects.filter(
      (o) =>
        o.kind === "NetworkPolicy" &&
        (((o["spec"] as Rec)["podSelector"] as Rec)["matchLabels"] as Rec | undefined)?.[
          "app.kubernetes.io/name"
        ] === "kms",
    ) as Rec[];
    const peers = toKms
      .flatMap((p) => ((p["spec"] as Rec)["ingress"] as Rec[] | undefined) ?? [])
      .flatMap((r) => r["from"] as Rec[]);
    expect(peers).toHaveLength(2);
    expect(peers).toContainEqual({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "join-service" } },
    });
    const ipBlock = peers.find((p) => p["ipBlock"] !== undefined)?.["ipBlock"] as Rec;
    expect(Object.keys(ipBlock)).toEqual(["cidr"]);
    if (name !== "base") expect(ipBlock["cidr"]).not.toBe("10.0.0.0/16");
    // No other policy opens the KMS pods to ingress (e.g. a podSelector {} allow rule on the kms port).
    for (const p of objects.filter((o) => o.kind === "NetworkPolicy") as Rec[]) {
      const spec = p["spec"] as Rec;
      const selectsAll = Object.keys(spec["podSelector"] as Rec).length === 0;
      if (!selectsAll) continue;
      for (const rule of (spec["ingress"] as Rec[] | undefined) ?? [])
        for (const port of (rule["ports"] as Rec[] | undefined) ?? []) expect(port["port"]).toBe("ops");
    }
  });

  test("workloads: control-plane placement, TPM device without privileged, probes on each service's health port", () => {
    for (const n of ["join-service", "kms"]) {
      const spec = podSpec(find(objects, "DaemonSet", n));
      expect(spec["tolerations"]).toContainEqual({
        key: "node-role.kubernetes.io/control-plane",
        operator: "Exists",
        effect: "NoSchedule",
      });
    }
    const vs = find(objects, "DaemonSet", "verification-service");
    expect(podSpec(vs)["tolerations"]).toEqual([{ operator: "Exists" }]);
    expect(podSpec(vs)["volumes"]).toContainEqual({
      name: "tpmrm",
      hostPath: { path: "/dev/tpmrm0", type: "CharDevice" },
    });
    expect((container(vs)["securityContext"] as Rec)["privileged"]).toBe(false);
    expect(podSpec(vs)["securityContext"]).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(podSpec(find(objects, "DaemonSet", "kms"))["securityContext"]).toMatchObject({
      runAsNonRoot: true,
    });
    // join-service: its plain-HTTP ops listener; verification-service: its one plain-HTTP listener; kms:
    // its mTLS port, whose health routes need no client certificate.
    const probes: [string, Rec][] = [
      ["join-service", { port: "ops" }],
      ["kms", { port: "kms", scheme: "HTTPS" }],
      ["verification-service", { port: "verify" }],
    ];
    for (const [n, how] of probes) {
      const c = container(find(objects, "DaemonSet", n));
      expect((c["livenessProbe"] as Rec)["httpGet"]).toEqual({ path: "/healthz", ...how });
      expect((c["readinessProbe"] as Rec)["httpGet"]).toEqual({ path: "/readyz", ...how });
      expect(c["image"]).toMatch(/^registry\.invalid\/asterism\/[a-z-]+:v\d+\.\d+\.\d+$/);
    }
  });

  if (name !== "base") {
    test("variant wiring: variant label, variant devices", () => {
      const variant = VARIANTS[name];
      for (const o of objects) expect(o.metadata.labels?.["asterism.dev/variant"]).toBe(variant);
      const paths = (podSpec(find(objects, "DaemonSet", "verification-service"))["volumes"] as Rec[])
        .map((v) => (v["hostPath"] as Rec | undefined)?.["path"])
        .filter((p) => p !== undefined)
        .sort();
      expect(paths).toEqual(
        variant?.endsWith("sev-snp") && name !== "azure"
          ? ["/dev/sev-guest", "/dev/tpmrm0", "/run/asterism/eventlog.bin"]
          : ["/dev/tpmrm0", "/run/asterism/eventlog.bin"],
      );
    });
  }
});
