import { type ClusterPki, caCertHash } from "./ca.ts";
import { buildControlPlaneFiles, type ControlPlaneFile } from "./control-plane.ts";
import { type PkiDeps, resolvePkiDeps } from "./deps.ts";
import { JoinPolicyError } from "./errors.ts";
import { type AttestedNodeIdentity, checkAttestedIdentity } from "./identity.ts";
import { issueKubeletCertificate, type KubeletCertUsage } from "./kubelet-cert.ts";
import {
  type BootstrapTokenSecret,
  createBootstrapTokenSecret,
  formatBootstrapToken,
  generateBootstrapToken,
} from "./token.ts";

/** What the joining node asked for (untrusted; every field is checked against the attested identity). */
export interface KubernetesJoinRequest {
  /** DER PKCS#10 CSR for the kubelet key. */
  readonly csr: Uint8Array;
  /** The node asks to join as a control plane. Honoured only if attestation says it is one. */
  readonly controlPlane: boolean;
}

/** The Kubernetes part of a join ticket. */
export interface KubernetesJoinMaterial {
  /** `<id>.<secret>` for the JoinConfiguration. Secret. */
  readonly token: string;
  /** The Secret to create in kube-system before returning the ticket. Contains the token. */
  readonly tokenSecret: BootstrapTokenSecret;
  /** CA pins for `caCertHashes`. */
  readonly caCertHashes: readonly string[];
  /**
   * The cluster CA certificate (PEM, public): the node checks it against the pins and the kubelet
   * certificate against it, and embeds it in its kubelet.conf (a worker has no other copy before
   * `kubeadm join` writes `ca.crt`).
   */
  readonly caCertPem: string;
  /** Kubelet certificate (PEM) for the attested node name and IPs. */
  readonly kubeletCertPem: string;
  /** Non-empty only for an attested control plane that asked to join as one. Secret. */
  readonly controlPlaneFiles: readonly ControlPlaneFile[];
}

/** Options of {@link issueKubernetesJoinMaterial}. */
export interface IssueJoinMaterialInput {
  /** From the verified attestation (see {@link AttestedNodeIdentity}); never from `request`. */
  readonly identity: AttestedNodeIdentity;
  readonly request: KubernetesJoinRequest;
  readonly pki: ClusterPki;
  /** Default `["client", "serving"]`: kubelet uses one certificate for both, as Constellation's did. */
  readonly kubeletUsages?: readonly KubeletCertUsage[];
}

/**
 * Everything Kubernetes-related the JoinService puts into a ticket, in one call: a fresh bootstrap token and its
 * Secret (15-minute TTL), the CA pin, a kubelet certificate bound to the attested name and IPs, and the
 * control-plane bundle when — and only when — the attested role is control plane.
 *
 * A node that asks for control-plane files without the attested role is refused outright
 * (`ROLE_NOT_CONTROL_PLANE`) rather than quietly downgraded, so the attempt is visible. A node attested as
 * control plane that asks to join as a worker gets no CA keys (least privilege).
 */
export async function issueKubernetesJoinMaterial(
  input: IssueJoinMaterialInput,
  deps: Partial<PkiDeps> = {},
): Promise<KubernetesJoinMaterial> {
  const d = resolvePkiDeps(deps);
  const identity = checkAttestedIdentity(input.identity);
  if (input.request.controlPlane === true && identity.role !== "control-plane") {
    throw new JoinPolicyError("ROLE_NOT_CONTROL_PLANE", "Refusing control-plane join", {
      expected: "attested role control-plane",
      actual: `attested role ${identity.role}`,
    });
  }
  const kubelet = await issueKubeletCertificate(
    {
      csr: input.request.csr,
      identity,
      usages: input.kubeletUsages ?? ["client", "serving"],
      ca: input.pki.ca,
    },
    d,
  );
  const token = generateBootstrapToken(d.randomBytes);
  return {
    token: formatBootstrapToken(token),
    tokenSecret: createBootstrapTokenSecret({ token, now: d.now() }),
    caCertHashes: [await caCertHash(input.pki.ca.cert, d.crypto)],
    caCertPem: input.pki.ca.certPem,
    kubeletCertPem: kubelet.certPem,
    controlPlaneFiles: input.request.controlPlane === true ? buildControlPlaneFiles(identity, input.pki) : [],
  };
}
