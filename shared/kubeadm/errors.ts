import { AsterismError } from "@asterism/errors";

/** Codes for loading, generating and checking the cluster's CA material. */
export type PkiErrorCode =
  | "PEM_INVALID"
  | "KEY_UNSUPPORTED"
  | "KEY_MISMATCH"
  | "CA_INVALID"
  | "CA_EXPIRED"
  | "PKI_FILE_INVALID"
  | "RANDOM_EXHAUSTED";

/** CA certificates or keys that cannot be parsed, do not match, or are not fit to be a CA. */
export class PkiError extends AsterismError<PkiErrorCode> {
  override readonly domain = "kube-pki";
}

/** Codes for parsing a PKCS#10 request and checking its self-signature (is it well-formed and authentic?). */
export type CsrErrorCode =
  | "CSR_TOO_LARGE"
  | "CSR_MALFORMED"
  | "CSR_SIGNATURE_INVALID"
  | "CSR_SIGNATURE_ALGORITHM_UNSUPPORTED"
  | "CSR_KEY_UNSUPPORTED"
  | "CSR_KEY_WEAK";

/** A certificate request that cannot be parsed, is not signed by its own key, or uses a weak key. */
export class CsrError extends AsterismError<CsrErrorCode> {
  override readonly domain = "kube-csr";
}

/** Codes for the policy check of a kubelet CSR against the node's attested identity. */
export type CsrPolicyErrorCode =
  | "CSR_SUBJECT_INVALID"
  | "CSR_NAME_MISMATCH"
  | "CSR_IP_MISMATCH"
  | "CSR_SAN_FORBIDDEN"
  | "CSR_EXTENSION_FORBIDDEN";

/** A well-formed, self-signed CSR that asks for more than the node's attested identity allows. */
export class CsrPolicyError extends AsterismError<CsrPolicyErrorCode> {
  override readonly domain = "kube-csr-policy";
}

/** Codes for join decisions that depend on the attested identity. */
export type JoinPolicyErrorCode =
  | "IDENTITY_INVALID"
  | "ROLE_NOT_CONTROL_PLANE"
  | "USAGES_INVALID"
  | "VALIDITY_INVALID";

/** A request the attested identity does not entitle the node to (or an identity that is malformed). */
export class JoinPolicyError extends AsterismError<JoinPolicyErrorCode> {
  override readonly domain = "kube-join-policy";
}

/** Codes for bootstrap tokens and their Secret. */
export type TokenErrorCode = "TOKEN_INVALID" | "TOKEN_TTL_INVALID" | "SECRET_INVALID";

/** A malformed bootstrap token, TTL or Secret object. */
export class TokenError extends AsterismError<TokenErrorCode> {
  override readonly domain = "kube-token";
}

/** Codes for kubeadm configuration generation. */
export type KubeadmConfigErrorCode = "CONFIG_INVALID";

/** Typed inputs that cannot produce a valid kubeadm configuration. */
export class KubeadmConfigError extends AsterismError<KubeadmConfigErrorCode> {
  override readonly domain = "kubeadm-config";
}

/** Codes for the Kubernetes component list and its downloads. */
export type ComponentErrorCode =
  | "COMPONENT_LIST_INVALID"
  | "COMPONENT_HASH_MISSING"
  | "COMPONENT_HASH_MISMATCH"
  | "COMPONENT_TOO_LARGE"
  | "COMPONENT_TIMEOUT"
  | "COMPONENT_FETCH_FAILED"
  | "COMPONENT_WRITE_FAILED"
  | "COMPONENT_ARCHIVE_UNSAFE";

/** A component list that is not acceptable, or a download that failed its pin, size or time bound. */
export class ComponentError extends AsterismError<ComponentErrorCode> {
  override readonly domain = "kube-components";
}

/** Codes for running kubeadm. */
export type InstallerErrorCode = "KUBEADM_FAILED" | "KUBEADM_TIMEOUT";

/** kubeadm exited non-zero or did not finish in time. */
export class InstallerError extends AsterismError<InstallerErrorCode> {
  override readonly domain = "kube-installer";
}

/** Codes for the init secret check. */
export type InitSecretErrorCode = "INIT_SECRET_INVALID" | "INIT_SECRET_HASH_INVALID";

/**
 * The init secret was wrong (`INIT_SECRET_INVALID`, the only code a caller ever sees, with no detail), or the
 * configured bcrypt hash is unusable (`INIT_SECRET_HASH_INVALID`, an operator error raised at start-up).
 */
export class InitSecretError extends AsterismError<InitSecretErrorCode> {
  override readonly domain = "init-secret";
}

/**
 * Codes for the authenticity of a node's kubelet credential (the certificate from its join ticket, or the
 * one the init node issued itself, with the key the node generated):
 * - `CA_PIN_MISMATCH`: the CA that came with the certificate is not the one the ticket pins;
 * - `CERT_NOT_FROM_CA`: the certificate is not issued (named and signed) by that CA;
 * - `CERT_KEY_MISMATCH`: the certificate is for another key than the node's own;
 * - `CERT_NOT_VALID_NOW`: now is outside the certificate's validity period.
 */
export type KubeletCredentialErrorCode =
  | "CA_PIN_MISMATCH"
  | "CERT_NOT_FROM_CA"
  | "CERT_KEY_MISMATCH"
  | "CERT_NOT_VALID_NOW";

/** A kubelet certificate that is not authentic for this node's key under the pinned cluster CA. */
export class KubeletCredentialError extends AsterismError<KubeletCredentialErrorCode> {
  override readonly domain = "kubelet-credential";
}

/**
 * Codes for the policy check of an authentic kubelet certificate against the node's attested identity:
 * - `CERT_NAME_MISMATCH`: the subject is not exactly `CN=system:node:<attested name>, O=system:nodes`;
 * - `CERT_USAGE_INVALID`: not a leaf good for client and server authentication;
 * - `CERT_SAN_MISMATCH`: the serving names are not the attested name and addresses.
 */
export type KubeletCredentialPolicyErrorCode =
  | "CERT_NAME_MISMATCH"
  | "CERT_USAGE_INVALID"
  | "CERT_SAN_MISMATCH";

/** An authentic kubelet certificate that does not name this node, or cannot serve as its kubelet identity. */
export class KubeletCredentialPolicyError extends AsterismError<KubeletCredentialPolicyErrorCode> {
  override readonly domain = "kubelet-credential-policy";
}
