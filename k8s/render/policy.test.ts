import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { KubeObject } from "@asterism/kube-apply";
import { repoRoot } from "@asterism/testing";
import { checkPolicy, type PolicyCode, renderKustomization } from "./index.ts";

const BASE = renderKustomization(join(repoRoot, "k8s", "base"));

type Rec = Record<string, unknown>;
/** Walks `path` (numbers index arrays) and returns the object there, for in-place mutation in a case. */
function at(root: unknown, ...path: (string | number)[]): Rec {
  let cur = root;
  for (const p of path) cur = (cur as Record<string | number, unknown>)[p];
  return cur as Rec;
}
const ds = (objs: KubeObject[], name: string) =>
  objs.find((o) => o.kind === "DaemonSet" && o.metadata.name === name);
const pod = (objs: KubeObject[], name: string) => at(ds(objs, name), "spec", "template", "spec");
const c0 = (objs: KubeObject[], name: string) => at(pod(objs, name), "containers", 0);
const meta = (objs: KubeObject[], name: string) => at(ds(objs, name), "spec", "template", "metadata");
const svc = (objs: KubeObject[], name: string) =>
  at(
    objs.find((o) => o.kind === "Service" && o.metadata.name === name),
    "spec",
  );

const cases: { name: string; wantCode: PolicyCode; mutate: (objs: KubeObject[]) => void }[] = [
  {
    name: "image :latest",
    wantCode: "IMAGE_NOT_PINNED",
    mutate: (o) => {
      c0(o, "kms")["image"] = "r/asterism/kms:latest";
    },
  },
  {
    name: "image without tag",
    wantCode: "IMAGE_NOT_PINNED",
    mutate: (o) => {
      c0(o, "kms")["image"] = "r:5000/asterism/kms";
    },
  },
  {
    name: "privileged without reason",
    wantCode: "PRIVILEGED_WITHOUT_REASON",
    mutate: (o) => {
      at(c0(o, "verification-service"), "securityContext")["privileged"] = true;
    },
  },
  {
    name: "no memory limit",
    wantCode: "MISSING_RESOURCES",
    mutate: (o) => void delete at(c0(o, "kms"), "resources", "limits")["memory"],
  },
  {
    name: "no cpu request",
    wantCode: "MISSING_RESOURCES",
    mutate: (o) => void delete at(c0(o, "kms"), "resources", "requests")["cpu"],
  },
  {
    name: "no liveness probe",
    wantCode: "MISSING_PROBES",
    mutate: (o) => void delete c0(o, "join-service")["livenessProbe"],
  },
  {
    name: "no readiness probe",
    wantCode: "MISSING_PROBES",
    mutate: (o) => void delete c0(o, "kms")["readinessProbe"],
  },
  {
    name: "a Secret in the manifests",
    wantCode: "SECRET_IN_MANIFEST",
    mutate: (o) =>
      void o.push({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "kms-master-secret", namespace: "asterism-system" },
      }),
  },
  {
    name: "KMS as NodePort",
    wantCode: "KMS_EXPOSED",
    mutate: (o) => {
      svc(o, "kms")["type"] = "NodePort";
    },
  },
  {
    name: "KMS with externalIPs",
    wantCode: "KMS_EXPOSED",
    mutate: (o) => {
      svc(o, "kms")["externalIPs"] = ["1.2.3.4"];
    },
  },
  {
    name: "another NodePort service",
    wantCode: "NODEPORT_NOT_ALLOWED",
    mutate: (o) =>
      void o.push({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "debug", namespace: "asterism-system" },
        spec: { type: "LoadBalancer", ports: [{ port: 1 }] },
      }),
  },
  {
    name: "capabilities not dropped",
    wantCode: "POD_SECURITY",
    mutate: (o) => {
      at(c0(o, "kms"), "securityContext", "capabilities")["drop"] = [];
    },
  },
  {
    name: "privilege escalation allowed",
    wantCode: "POD_SECURITY",
    mutate: (o) => {
      at(c0(o, "kms"), "securityContext")["allowPrivilegeEscalation"] = true;
    },
  },
  {
    name: "writable root filesystem",
    wantCode: "POD_SECURITY",
    mutate: (o) => void delete at(c0(o, "kms"), "securityContext")["readOnlyRootFilesystem"],
  },
  {
    name: "no seccomp profile",
    wantCode: "POD_SECURITY",
    mutate: (o) => void delete at(pod(o, "kms"), "securityContext")["seccompProfile"],
  },
  {
    name: "host network",
    wantCode: "POD_SECURITY",
    mutate: (o) => {
      pod(o, "kms")["hostNetwork"] = true;
    },
  },
  {
    name: "added capability",
    wantCode: "POD_SECURITY",
    mutate: (o) => {
      at(c0(o, "kms"), "securityContext", "capabilities")["add"] = ["SYS_ADMIN"];
    },
  },
  {
    name: "root KMS without a written exception",
    wantCode: "POD_SECURITY_EXCEPTION_MISSING",
    mutate: (o) => {
      at(pod(o, "kms"), "securityContext")["runAsNonRoot"] = false;
    },
  },
  {
    name: "hostPath without a written exception",
    wantCode: "POD_SECURITY_EXCEPTION_MISSING",
    mutate: (o) =>
      void delete at(meta(o, "verification-service"), "annotations")["asterism.dev/pod-security-exception"],
  },
  {
    name: "an exception that is not a reason",
    wantCode: "POD_SECURITY_EXCEPTION_MISSING",
    mutate: (o) => {
      at(meta(o, "join-service"), "annotations")["asterism.dev/pod-security-exception"] = "needed";
    },
  },
  {
    name: "ops port not annotated for scraping",
    wantCode: "METRICS_ANNOTATIONS",
    mutate: (o) => {
      at(meta(o, "join-service"), "annotations")["prometheus.io/port"] = "9090";
    },
  },
  {
    name: "scrape annotation naming a port the pod does not declare",
    wantCode: "METRICS_ANNOTATIONS",
    mutate: (o) => {
      at(meta(o, "verification-service"), "annotations")["prometheus.io/port"] = "8081";
    },
  },
  {
    name: "scrape annotations on the KMS, whose metrics need a client certificate",
    wantCode: "METRICS_ANNOTATIONS",
    mutate: (o) => {
      at(meta(o, "kms"))["annotations"] = { "prometheus.io/scrape": "true", "prometheus.io/port": "9001" };
    },
  },
  {
    name: "namespace without pod-security labels",
    wantCode: "NAMESPACE_LABELS",
    mutate: (o) =>
      void delete o.find((x) => x.kind === "Namespace")?.metadata.labels?.["pod-security.kubernetes.io/warn"],
  },
  {
    name: "KMS without control-plane toleration",
    wantCode: "PLACEMENT",
    mutate: (o) => {
      pod(o, "kms")["tolerations"] = [];
    },
  },
  {
    name: "JoinService on any node",
    wantCode: "PLACEMENT",
    mutate: (o) => void delete pod(o, "join-service")["affinity"],
  },
];

describe("policy rules fire", () => {
  test("the base passes unmodified", () => {
    expect(checkPolicy(BASE)).toEqual([]);
  });
  test.each(cases)("$name → $wantCode", ({ wantCode, mutate }) => {
    const objs = structuredClone(BASE);
    mutate(objs);
    const codes = checkPolicy(objs).map((v) => v.code);
    expect(codes).toContain(wantCode);
  });
  test("a privileged container with a written reason is accepted by that rule", () => {
    const objs = structuredClone(BASE);
    at(c0(objs, "verification-service"), "securityContext")["privileged"] = true;
    at(meta(objs, "verification-service"), "annotations")["asterism.dev/privileged-reason"] =
      "fallback on clusters whose runtime cannot grant /dev/tpmrm0 in the device cgroup";
    expect(checkPolicy(objs).map((v) => v.code)).not.toContain("PRIVILEGED_WITHOUT_REASON");
  });
});
