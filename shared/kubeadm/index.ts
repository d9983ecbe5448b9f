/**
 * The Kubernetes side of init and join, as pure, injectable functions: cluster CA material and its kubeadm
 * pin, bootstrap tokens and their Secret, kubelet certificates bound to a node's ATTESTED identity, the
 * control-plane bundle (attested control planes only), the node's own check of its kubelet credential and
 * its layout as the kubelet's identity (kubelet.conf, certificate store, serving pair: no TLS bootstrap),
 * kubeadm v1beta4 configuration, SHA-256-pinned
 * component downloads, the `KubernetesInstaller` seam, and the init-secret check. The JoinService and the
 * bootstrapper compose these; this module does no network I/O of its own beyond the injected `fetch`.
 *
 * Key choices (see README.md): CAs are ECDSA P-256 by default (kubeadm v1beta4 `encryptionAlgorithm:
 * ECDSA-P256`; loading also accepts RSA, so Constellation/kubeadm clusters migrate), the service-account key is
 * RSA-2048 (RS256 tokens work with every OIDC consumer).
 *
 * @example
 * import { issueKubeletCertificate, buildControlPlaneFiles, caCertHash } from "@asterism/kubeadm";
 * const identity = { nodeName: claims.nodeName, ips: claims.ips, role: claims.role }; // from attestation only
 * const kubelet = await issueKubeletCertificate({ csr, identity, usages: ["client"], ca: pki.ca });
 * const files = identity.role === "control-plane" ? buildControlPlaneFiles(identity, pki) : [];
 * const pin = await caCertHash(pki.ca.cert);
 *
 * @module
 */
export {
  CA_COMMON_NAMES,
  CA_VALIDITY_MS,
  CERT_BACKDATE_MS,
  type CertificateAuthority,
  type ClusterPki,
  caCertHash,
  type GenerateCaOptions,
  type GenerateClusterPkiOptions,
  generateCa,
  generateClusterPki,
  loadCa,
  type ServiceAccountKey,
} from "./ca.ts";
export {
  COMPONENT_HASH_PATTERN,
  type Component,
  ComponentSchema,
  componentsHash,
  MAX_COMPONENTS,
  parseComponentList,
} from "./components.ts";
export {
  buildControlPlaneFiles,
  CONTROL_PLANE_FILE_NAMES,
  type ControlPlaneFile,
  type ControlPlaneFileName,
  clusterPkiFiles,
  loadClusterPki,
  readControlPlaneFiles,
  writeControlPlaneFiles,
} from "./control-plane.ts";
export {
  type CsrKeyType,
  MAX_CSR_BYTES,
  type NameAttribute,
  type ParsedCsr,
  parseCsr,
  type VerifiedCsr,
  verifyCsr,
} from "./csr.ts";
export { defaultPkiDeps, type PkiDeps } from "./deps.ts";
export {
  COMPONENT_FILE_MODE,
  DEFAULT_COMPONENT_TIMEOUT_MS,
  DEFAULT_MAX_COMPONENT_BYTES,
  type DownloadDeps,
  type DownloadResult,
  downloadComponent,
} from "./download.ts";
export {
  ComponentError,
  type ComponentErrorCode,
  CsrError,
  type CsrErrorCode,
  CsrPolicyError,
  type CsrPolicyErrorCode,
  InitSecretError,
  type InitSecretErrorCode,
  InstallerError,
  type InstallerErrorCode,
  JoinPolicyError,
  type JoinPolicyErrorCode,
  KubeadmConfigError,
  type KubeadmConfigErrorCode,
  KubeletCredentialError,
  type KubeletCredentialErrorCode,
  KubeletCredentialPolicyError,
  type KubeletCredentialPolicyErrorCode,
  PkiError,
  type PkiErrorCode,
  TokenError,
  type TokenErrorCode,
} from "./errors.ts";
export {
  type AttestedNodeIdentity,
  type CheckedIdentity,
  canonicalIp,
  checkAttestedIdentity,
  isValidNodeName,
  MAX_NODE_IPS,
  type NodeRole,
} from "./identity.ts";
export { createInitSecretChecker, type InitSecretChecker, MAX_INIT_SECRET_BYTES } from "./init-secret.ts";
export {
  bunCommandRunner,
  type CommandRunner,
  createKubeadmInstaller,
  createLocalInstaller,
  type InstallResult,
  type KubeadmInstallerDeps,
  type KubeadmResult,
  type KubernetesInstaller,
  LOCAL_INSTALLER_NOTE,
} from "./installer.ts";
export {
  type IssueJoinMaterialInput,
  issueKubernetesJoinMaterial,
  type KubernetesJoinMaterial,
  type KubernetesJoinRequest,
} from "./join-material.ts";
export { KEY_ALGORITHMS, type KeyAlgorithm } from "./keys.ts";
export {
  CA_CERT_HASH_PATTERN,
  DEFAULT_API_SERVER_PORT,
  DEFAULT_CRI_SOCKET,
  generateInitConfig,
  generateJoinConfig,
  type InitConfigInput,
  InitConfigInputSchema,
  type JoinConfigInput,
  JoinConfigInputSchema,
  KUBEADM_API_VERSION,
  KUBELET_CONF_PREFLIGHT_CHECK,
  KUBELET_CONFIG_API_VERSION,
} from "./kubeadm-config.ts";
export {
  type IssueKubeletCertificateInput,
  issueKubeletCertificate,
  type KubeletCertificate,
  type KubeletCertUsage,
  MAX_KUBELET_CERT_VALIDITY_MS,
  NODE_USER_PREFIX,
  NODES_GROUP,
  validateKubeletCsr,
} from "./kubelet-cert.ts";
export {
  checkKubeletCredential,
  type KubeletCredential,
  type KubeletCredentialInput,
  MAX_KUBELET_PEM_BYTES,
} from "./kubelet-credential.ts";
export {
  defaultKubeletPaths,
  KUBELET_CERT_DIR,
  KUBELET_CONFIG_PATCH_FILE,
  KUBELET_KUBECONFIG_PATH,
  type KubeletFiles,
  type KubeletPaths,
  kubeletConfigFields,
  kubeletFiles,
  renderKubeletKubeconfig,
  type WriteKubeletIdentityOptions,
  writeKubeletIdentity,
} from "./kubelet-identity.ts";
export { extractTarGz, MAX_TAR_ENTRIES, parseTar, type TarEntry } from "./tar.ts";
export {
  BOOTSTRAP_TOKEN_PATTERN,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  BOOTSTRAP_TOKEN_TTL_MS,
  type BootstrapToken,
  type BootstrapTokenSecret,
  type BootstrapTokenSecretOptions,
  createBootstrapTokenSecret,
  DEFAULT_NODE_TOKEN_GROUP,
  formatBootstrapToken,
  generateBootstrapToken,
  parseBootstrapToken,
} from "./token.ts";
