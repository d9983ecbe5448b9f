import { AsterismError } from "@asterism/errors";

/** Codes of failures talking to a cluster (exit 3: the operation failed, not the evidence). */
export type ClusterErrorCode =
  /** A service did not answer, or answered with an HTTP error. */
  | "UNREACHABLE"
  /** A service answered something that is not its API's shape. */
  | "BAD_RESPONSE"
  /** Nothing to talk to: no endpoint given and none in the state file. */
  | "NO_ENDPOINT"
  /** The cluster ID needed for the expected PCR 15 is unknown. */
  | "NO_CLUSTER_ID"
  /** `--owner`: the owners did not finish enrolling and approving the initial policy (nothing was sent). */
  | "OWNERS_NOT_ENROLLED"
  /** After init, the owners' log or anchor could not be written to the cluster state. */
  | "OWNERS_NOT_PUBLISHED"
  /** Recovery of a node that recorded owners, without (or with a refused) owner approval. */
  | "RECOVERY_NOT_APPROVED";

/** A failure reaching or talking to a cluster service. */
export class ClusterError extends AsterismError<ClusterErrorCode> {
  override readonly domain = "cluster";
}
