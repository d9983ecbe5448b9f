import { AsterismError } from "@asterism/errors";

/**
 * JoinService refusals and outages (docs/lifecycle.md §3).
 * - `IDENTITY_MISSING`: the connection carries no attested node identity (no client attestation).
 * - `IDENTITY_MISMATCH`: the attested identity disagrees with the metadata service's instance list.
 * - `OWNER_KEY_MISSING`: the evidence names no attestation key to bind disk ownership to.
 * - `DISK_OWNED_BY_OTHER_NODE`: the disk's key was first issued to another node.
 * - `DISK_UNKNOWN`: rejoin for a disk that never joined.
 * - `NODE_REVOKED`: the cluster owners approved this node's revocation (docs/owner.md).
 * - `POLICY_NOT_LOADED`, `PKI_NOT_LOADED`: the service is not ready.
 * - `KMS_UNAVAILABLE`: the KMS did not hand out a key.
 * - `INVALID_REQUEST`: the body is not the documented JSON.
 */
export type JoinServiceErrorCode =
  | "IDENTITY_MISSING"
  | "IDENTITY_MISMATCH"
  | "OWNER_KEY_MISSING"
  | "DISK_OWNED_BY_OTHER_NODE"
  | "DISK_UNKNOWN"
  | "NODE_REVOKED"
  | "POLICY_NOT_LOADED"
  | "PKI_NOT_LOADED"
  | "KMS_UNAVAILABLE"
  | "INVALID_REQUEST";

export class JoinServiceError extends AsterismError<JoinServiceErrorCode> {
  override readonly domain = "join-service";
}
