import { applyObject, type KubeClient, type KubeObject } from "@asterism/kube-apply";

/**
 * The CSR-related ClusterRoleBindings `kubeadm init` creates (phase `bootstrap-token`, kubeadm's
 * `nodebootstraptoken` package), as a real cluster has them right after init: what the bootstrapper's
 * init step finds. Group and role names are kubeadm's and Kubernetes' constants.
 */
export const KUBEADM_CSR_BINDINGS: readonly KubeObject[] = [
  {
    // Bootstrap-token holders may file CSRs (kept: a CSR nobody approves grants nothing).
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "kubeadm:kubelet-bootstrap" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:node-bootstrapper" },
    subjects: [
      {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Group",
        name: "system:bootstrappers:kubeadm:default-node-token",
      },
    ],
  },
  {
    // ... and get their node client CSRs auto-approved, for any node name (what Asterism removes).
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "kubeadm:node-autoapprove-bootstrap" },
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
    },
    subjects: [
      {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Group",
        name: "system:bootstrappers:kubeadm:default-node-token",
      },
    ],
  },
  {
    // Nodes renew their own client certificates (kept).
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "kubeadm:node-autoapprove-certificate-rotation" },
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
    },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:nodes" }],
  },
];

/** Store {@link KUBEADM_CSR_BINDINGS} in a test API server as kubeadm would (its own field manager). */
export async function seedKubeadmCsrBindings(client: KubeClient): Promise<void> {
  for (const o of KUBEADM_CSR_BINDINGS) await applyObject(client, o, { fieldManager: "kubeadm" });
}
