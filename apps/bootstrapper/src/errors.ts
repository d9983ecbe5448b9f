import { AsterismError } from "@asterism/errors";

/**
 * Bootstrapper refusals (docs/lifecycle.md §3).
 * - `NODE_ALREADY_ACTIVATED`: the one-way node lock is taken (by a join, recovery or an earlier init).
 * - `INIT_FAILED` / `JOIN_FAILED` / `RECOVERY_FAILED` (also rejoin): something failed after the lock; the
 *   node must be rebooted (after init or join its still-empty disk is reset, after rejoin/recovery it is kept).
 * - `MASTER_SECRET_WRONG`: the key derived from the offered master secret does not open this node's disk.
 * - `INVALID_REQUEST`: the body is not the documented JSON (or its Kubernetes settings are unusable).
 * - `IDENTITY_UNPROVABLE`: PCR 16 is set but the event log explaining it is missing or does not replay.
 * - `OWNER_APPROVAL_REQUIRED`: recovery of a node that recorded cluster owners, without their approval.
 * - `OWNER_APPROVAL_INVALID`: the owners' approval of a recovery does not verify (`cause` says why:
 *   another node or disk, a replayed or unknown nonce, a tampered log, a removed owner, …).
 * - `MANIFESTS_APPLY_FAILED`: the server-side apply of the rendered k8s/ overlay after `kubeadm init`
 *   failed (init then fails as `INIT_FAILED`).
 * - `JOIN_POLICY_INVALID`: this node provisions the control-plane services and the init request's
 *   `joinPolicy` is missing, unparseable, or enforces no measurement besides PCR 15/16 (refused before
 *   the node lock).
 * - `NODE_NAME_UNREADABLE`: `ASTERISM_NODE_NAME_FILE` cannot be read or holds no valid node name.
 * - `STATE_MOUNT_FAILED`: making or mounting the state file system failed (mkfs.ext4, mount, blkid).
 * - `STATE_FS_INVALID`: the mapped state disk holds something other than the node's ext4 (never
 *   formatted over), or no file system on rejoin/recovery, or the mount point is taken.
 * - `SERVICES_PROVISIONING_FAILED`: writing or starting the control-plane services failed (init then
 *   fails as `INIT_FAILED`).
 */
export type BootstrapperErrorCode =
  | "NODE_ALREADY_ACTIVATED"
  | "INIT_FAILED"
  | "JOIN_FAILED"
  | "RECOVERY_FAILED"
  | "MASTER_SECRET_WRONG"
  | "INVALID_REQUEST"
  | "IDENTITY_UNPROVABLE"
  | "MANIFESTS_APPLY_FAILED"
  | "OWNER_APPROVAL_REQUIRED"
  | "OWNER_APPROVAL_INVALID"
  | "JOIN_POLICY_INVALID"
  | "NODE_NAME_UNREADABLE"
  | "STATE_MOUNT_FAILED"
  | "STATE_FS_INVALID"
  | "SERVICES_PROVISIONING_FAILED";

export class BootstrapperError extends AsterismError<BootstrapperErrorCode> {
  override readonly domain = "bootstrapper";
}
