/**
 * The node lifecycle as libraries (docs/lifecycle.md): the attested node identity (PCR 16 event) and the
 * validator wrapper that extracts it, the one-way node lock, capped exponential backoff with jitter, the
 * node's TPM on demand (swtpm is single-client) and its issuer with a persistent AK, the local-cluster boot
 * simulation, the join configuration in cluster state, and the clients: `initCluster` (CLI side of init),
 * `requestJoinTicket` / `requestRejoinTicket` (joining nodes, with `classifyTicketFailure` /
 * `askEndpoints` for their retry loop: busy and unavailable are retried, refusals are final),
 * `verifyNode` and `recoverNode`.
 *
 * The services themselves live in `apps/bootstrapper`, `apps/join-service`, `apps/verification-service`.
 *
 * @example
 * import { initCluster, verifyNode } from "@asterism/lifecycle";
 * const { clusterId, kubeconfig } = await initCluster({ endpoint, validators, initSecret, masterSecret,
 *   measurementSalt, kubernetes });
 * await verifyNode({ url: verifyUrl, policy, clusterId });
 *
 * @module
 */
export { type BackoffOptions, backoffDelay, type RetryOptions, retryWithBackoff } from "./backoff.ts";
export { createKubeletCsr, type KubeletCsr } from "./csr.ts";
export {
  LifecycleError,
  type LifecycleErrorCode,
  NodeIdentityError,
  type NodeIdentityErrorCode,
} from "./errors.ts";
export { isUnavailable, readAnswer } from "./http.ts";
export {
  createIdentityValidator,
  encodeNodeIdentity,
  identityEventData,
  identityFromEventLog,
  identityOfClaims,
  measureNodeIdentity,
  NODE_IDENTITY_DETAIL,
  NODE_IDENTITY_EVENT_ID,
  NODE_IDENTITY_PCR,
  type NodeIdentity,
  parseNodeIdentity,
  TCG_PCClientTaggedEvent,
} from "./identity.ts";
export {
  type InitClusterOptions,
  type InitClusterResult,
  type InitKubernetesSettings,
  initCluster,
} from "./init-client.ts";
export { createNodeIssuer, type NodeIssuerOptions } from "./issuer.ts";
export { requestJoinTicket, requestRejoinTicket, type TicketRequestOptions } from "./join-client.ts";
export {
  BOOTSTRAP_TOKEN_LABEL,
  type JoinConfig,
  parseComponentsObject,
  parseJoinConfigObject,
  STATE_OBJECTS,
  serializePolicy,
  writeJoinConfig,
} from "./join-config.ts";
export {
  bootLocalNode,
  describeLocalImage,
  LOCAL_IMAGE_PCRS,
  type LocalImage,
  localImage,
  localImageMeasurements,
} from "./local-boot.ts";
export { type Activation, NodeLock } from "./node-lock.ts";
export {
  NODE_RECORD_KEY,
  NODE_RECORD_LABEL,
  NODE_RECORD_PREFIX,
  type NodeRecord,
  NodeRecordSchema,
  parseNodeRecord,
  writeNodeRecord,
} from "./node-record.ts";
export { type RecoverNodeOptions, recoverNode, requestRecoveryChallenge } from "./recover-client.ts";
export {
  type InClusterOptions,
  inClusterConnection,
  kubeConnectionOf,
  openClusterState,
  readKubeconfig,
  SERVICE_ACCOUNT_DIR,
} from "./state-spec.ts";
export {
  askEndpoints,
  classifyTicketFailure,
  isRetryableTicketFailure,
  type TicketFailureKind,
} from "./ticket-retry.ts";
export {
  DEFAULT_TPM_IDLE_MS,
  type NodeTpm,
  onDemandTransport,
  openNodeTpm,
  parseTpmSpec,
  type TpmSpec,
  TpmSpecSchema,
} from "./tpm.ts";
export { type VerifiedNode, type VerifyNodeOptions, verifyNode } from "./verify-client.ts";
