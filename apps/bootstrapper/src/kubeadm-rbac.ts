import { deleteObject, getObject, type KubeClient } from "@asterism/kube-apply";

/**
 * kubeadm's ClusterRoleBinding (created by `kubeadm init`, phase `bootstrap-token`) that binds the
 * bootstrap-token group `system:bootstrappers:kubeadm:default-node-token` to the ClusterRole
 * `system:certificates.k8s.io:certificatesigningrequests:nodeclient`: kube-controller-manager's CSR
 * approver then approves any node client CSR such a token holder files, for any node name. Asterism's
 * JoinService issues each kubelet certificate itself, bound to the attested node name, so this path only
 * undercuts that binding (k8s/README.md, RBAC item 5).
 */
export const KUBEADM_BOOTSTRAP_AUTOAPPROVE = "kubeadm:node-autoapprove-bootstrap";

/**
 * kubeadm's binding of `system:nodes` to `…:selfnodeclient`: a node renewing its *own* client
 * certificate (same name, authenticated by the current one). Kept: it cannot mint a new identity.
 */
export const KUBEADM_ROTATION_AUTOAPPROVE = "kubeadm:node-autoapprove-certificate-rotation";

const BINDING = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding" } as const;

/** What {@link removeBootstrapAutoApproval} found. */
export type AutoApprovalRemoval = "deleted" | "absent";

/**
 * Delete {@link KUBEADM_BOOTSTRAP_AUTOAPPROVE} with the admin client, idempotently: `"absent"` when it is
 * not there (a re-run, or a kubeadm that did not create it). The delete carries the `resourceVersion`
 * just read, so exactly the object read is removed; {@link KUBEADM_ROTATION_AUTOAPPROVE} is never touched.
 * Throws `KubeError` (the caller maps it). Caveat: `kubeadm upgrade apply` re-creates the binding; an
 * upgrade path must run this again.
 */
export async function removeBootstrapAutoApproval(client: KubeClient): Promise<AutoApprovalRemoval> {
  const ref = { ...BINDING, name: KUBEADM_BOOTSTRAP_AUTOAPPROVE };
  const found = await getObject(client, ref);
  if (found === undefined) return "absent";
  const resourceVersion = found.metadata.resourceVersion;
  return deleteObject(client, ref, typeof resourceVersion === "string" ? { resourceVersion } : {});
}
