import { isRecord, type KubeObject } from "@asterism/kube-apply";

/**
 * Our own rules for rendered manifests, on top of schema validity. Each rule has a stable code so tests
 * assert codes, not messages.
 * - `IMAGE_NOT_PINNED`: an image without a tag or digest, or tagged `latest`.
 * - `PRIVILEGED_WITHOUT_REASON`: a privileged container whose pod has no `asterism.dev/privileged-reason`.
 * - `MISSING_RESOURCES`: a container without cpu and memory requests and limits.
 * - `MISSING_PROBES`: a container without liveness and readiness probes.
 * - `SECRET_IN_MANIFEST`: a Secret object (secrets are created at init, never shipped in manifests).
 * - `KMS_EXPOSED`: the KMS Service is anything but a plain ClusterIP Service.
 * - `NODEPORT_NOT_ALLOWED`: a NodePort/LoadBalancer Service other than join-service and verification-service.
 * - `POD_SECURITY`: a hard container rule (drop ALL, no privilege escalation, RuntimeDefault seccomp,
 *   read-only root filesystem, no host namespaces) broken — no exception possible.
 * - `POD_SECURITY_EXCEPTION_MISSING`: a waivable Pod Security "restricted" rule (runAsNonRoot, hostPath)
 *   broken without a written `asterism.dev/pod-security-exception`.
 * - `METRICS_ANNOTATIONS`: Prometheus scrape annotations naming a port the pod does not declare, or a pod
 *   with a plain-HTTP `ops` port that is not annotated for scraping on it. (A pod without plain-HTTP
 *   metrics, like the KMS, whose /metrics needs a client certificate, carries no annotations.)
 * - `NAMESPACE_LABELS`: a Namespace without Pod Security enforce/audit/warn labels.
 * - `PLACEMENT`: join-service or kms not pinned to control-plane nodes with the control-plane toleration.
 */
export type PolicyCode =
  | "IMAGE_NOT_PINNED"
  | "PRIVILEGED_WITHOUT_REASON"
  | "MISSING_RESOURCES"
  | "MISSING_PROBES"
  | "SECRET_IN_MANIFEST"
  | "KMS_EXPOSED"
  | "NODEPORT_NOT_ALLOWED"
  | "POD_SECURITY"
  | "POD_SECURITY_EXCEPTION_MISSING"
  | "METRICS_ANNOTATIONS"
  | "NAMESPACE_LABELS"
  | "PLACEMENT";

/** One broken rule, naming the object (`Kind namespace/name`) and, where useful, the container. */
export interface PolicyViolation {
  readonly code: PolicyCode;
  readonly object: string;
  readonly detail: string;
}

/** Annotation carrying the written reason for a privileged container. */
export const PRIVILEGED_REASON_ANNOTATION = "asterism.dev/privileged-reason";
/** Annotation carrying the written reason why a pod is not Pod Security "restricted". */
export const POD_SECURITY_EXCEPTION_ANNOTATION = "asterism.dev/pod-security-exception";
/** A "reason" shorter than this is not a reason. */
const MIN_REASON_CHARS = 40;

const EXPOSABLE_SERVICES = new Set(["join-service", "verification-service"]);
const CONTROL_PLANE_DAEMONSETS = new Set(["join-service", "kms"]);
const WORKLOAD_KINDS = new Set(["DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job", "Pod"]);
const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (isRecord(v) ? v : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function idOf(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** Pod template metadata and spec of a workload (or the Pod itself). */
function podOf(o: KubeObject): { meta: Rec; spec: Rec } | undefined {
  if (!WORKLOAD_KINDS.has(o.kind)) return undefined;
  if (o.kind === "Pod") return { meta: rec(o.metadata), spec: rec(o["spec"]) };
  const template = rec(rec(o["spec"])["template"]);
  return { meta: rec(template["metadata"]), spec: rec(template["spec"]) };
}

function hasReason(meta: Rec, annotation: string): boolean {
  const text = rec(meta["annotations"])[annotation];
  return typeof text === "string" && text.trim().length >= MIN_REASON_CHARS;
}

function imagePinned(image: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  if (colon <= slash) return false;
  const tag = image.slice(colon + 1);
  return tag !== "" && tag !== "latest";
}

function checkPod(o: KubeObject, out: PolicyViolation[]): void {
  const pod = podOf(o);
  if (pod === undefined) return;
  const id = idOf(o);
  const add = (code: PolicyCode, detail: string) => out.push({ code, object: id, detail });
  const { meta, spec } = pod;
  const podSec = rec(spec["securityContext"]);
  const waivable: string[] = [];

  for (const ns of ["hostNetwork", "hostPID", "hostIPC"])
    if (spec[ns] === true) add("POD_SECURITY", `${ns} is true`);
  for (const vol of arr(spec["volumes"]))
    if (isRecord(vol) && vol["hostPath"] !== undefined)
      waivable.push(`hostPath volume ${String(vol["name"])}`);

  const containers = [...arr(spec["initContainers"]), ...arr(spec["containers"])].map(rec);
  for (const c of containers) {
    const name = String(c["name"]);
    const sc = rec(c["securityContext"]);
    const image = c["image"];
    if (typeof image !== "string" || !imagePinned(image))
      add("IMAGE_NOT_PINNED", `${name}: ${String(image)}`);
    if (sc["privileged"] === true && !hasReason(meta, PRIVILEGED_REASON_ANNOTATION))
      add("PRIVILEGED_WITHOUT_REASON", name);
    const res = rec(c["resources"]);
    for (const kind of ["requests", "limits"])
      for (const r of ["cpu", "memory"])
        if (rec(res[kind])[r] === undefined) add("MISSING_RESOURCES", `${name}: ${kind}.${r}`);
    for (const p of ["livenessProbe", "readinessProbe"])
      if (c[p] === undefined) add("MISSING_PROBES", `${name}: ${p}`);

    if (sc["allowPrivilegeEscalation"] !== false)
      add("POD_SECURITY", `${name}: allowPrivilegeEscalation is not false`);
    if (sc["readOnlyRootFilesystem"] !== true)
      add("POD_SECURITY", `${name}: readOnlyRootFilesystem is not true`);
    const caps = rec(sc["capabilities"]);
    if (!arr(caps["drop"]).includes("ALL")) add("POD_SECURITY", `${name}: capabilities do not drop ALL`);
    const added = arr(caps["add"]).filter((x) => x !== "NET_BIND_SERVICE");
    if (added.length > 0) add("POD_SECURITY", `${name}: adds capabilities ${added.join(",")}`);
    const seccomp = rec(sc["seccompProfile"])["type"] ?? rec(podSec["seccompProfile"])["type"];
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost")
      add("POD_SECURITY", `${name}: seccomp not RuntimeDefault`);
    const nonRoot = sc["runAsNonRoot"] ?? podSec["runAsNonRoot"];
    const uid = sc["runAsUser"] ?? podSec["runAsUser"];
    if (nonRoot !== true || uid === 0) waivable.push(`${name}: runs as root or without runAsNonRoot`);
  }
  if (waivable.length > 0 && !hasReason(meta, POD_SECURITY_EXCEPTION_ANNOTATION))
    add("POD_SECURITY_EXCEPTION_MISSING", waivable.join("; "));

  const ann = rec(meta["annotations"]);
  const ports = containers.flatMap((c) => arr(c["ports"]).map(rec));
  const declared = ports.map((p) => String(p["containerPort"]));
  const ops = ports.filter((p) => p["name"] === "ops").map((p) => String(p["containerPort"]));
  const scrape = ann["prometheus.io/scrape"];
  const port = ann["prometheus.io/port"];
  const scraped = scrape === "true" && declared.includes(String(port));
  if ((scrape !== undefined && !scraped) || (ops.length > 0 && !(scraped && ops.includes(String(port)))))
    add("METRICS_ANNOTATIONS", `scrape=${String(scrape)} port=${String(port)}`);

  if (o.kind === "DaemonSet" && CONTROL_PLANE_DAEMONSETS.has(o.metadata.name)) {
    const terms = arr(
      rec(rec(rec(spec["affinity"])["nodeAffinity"])["requiredDuringSchedulingIgnoredDuringExecution"])[
        "nodeSelectorTerms"
      ],
    );
    const pinned =
      terms.length > 0 &&
      terms.every((t) => arr(rec(t)["matchExpressions"]).some((e) => rec(e)["key"] === CONTROL_PLANE_LABEL));
    const tolerated = arr(spec["tolerations"]).some(
      (t) => rec(t)["key"] === CONTROL_PLANE_LABEL && rec(t)["effect"] === "NoSchedule",
    );
    if (!pinned || !tolerated) add("PLACEMENT", `control-plane affinity=${pinned} toleration=${tolerated}`);
  }
}

function checkService(o: KubeObject, out: PolicyViolation[]): void {
  const spec = rec(o["spec"]);
  const type = spec["type"] ?? "ClusterIP";
  const selectorName = rec(spec["selector"])["app.kubernetes.io/name"];
  const isKms = o.metadata.name === "kms" || selectorName === "kms";
  if (isKms) {
    if (type !== "ClusterIP" || spec["externalIPs"] !== undefined || spec["clusterIP"] === "None")
      out.push({ code: "KMS_EXPOSED", object: idOf(o), detail: `type ${String(type)}` });
    return;
  }
  if ((type === "NodePort" || type === "LoadBalancer") && !EXPOSABLE_SERVICES.has(o.metadata.name))
    out.push({ code: "NODEPORT_NOT_ALLOWED", object: idOf(o), detail: String(type) });
}

/**
 * Checks a rendered manifest set against Asterism's deployment policy (see {@link PolicyCode}).
 * Returns every violation; an empty list means the set passes.
 *
 * @example
 * expect(checkPolicy(renderKustomization("k8s/overlays/aws"))).toEqual([]);
 */
export function checkPolicy(objects: readonly KubeObject[]): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  for (const o of objects) {
    if (o.kind === "Secret")
      out.push({ code: "SECRET_IN_MANIFEST", object: idOf(o), detail: "Secrets are created at init" });
    if (o.kind === "Service") checkService(o, out);
    if (o.kind === "Namespace") {
      const labels = o.metadata.labels ?? {};
      for (const mode of ["enforce", "audit", "warn"])
        if (labels[`pod-security.kubernetes.io/${mode}`] === undefined)
          out.push({
            code: "NAMESPACE_LABELS",
            object: idOf(o),
            detail: `pod-security.kubernetes.io/${mode}`,
          });
    }
    checkPod(o, out);
  }
  return out;
}
