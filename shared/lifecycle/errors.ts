import { AsterismError, type ErrorDetail } from "@asterism/errors";

/**
 * Why a node's attested identity (its PCR 16 event, docs/lifecycle.md §1) cannot be used. Verify stage:
 * the log and event must be exactly what an honest bootstrapper writes and must replay to the quoted PCR 16.
 */
export type NodeIdentityErrorCode =
  /** The event log is missing or not a parseable crypto-agile SHA-256 log. */
  | "IDENTITY_LOG_INVALID"
  /** PCR 16 has no identity event (or was not quoted). */
  | "IDENTITY_EVENT_MISSING"
  /** PCR 16 has more than one event: the identity could have been changed after the first. */
  | "IDENTITY_EVENT_DUPLICATE"
  /** The event is not an `EV_EVENT_TAG` with our tag, or its JSON is not canonical node-identity JSON. */
  | "IDENTITY_EVENT_INVALID"
  /** The event's recorded SHA-256 digest is not the digest of its data. */
  | "IDENTITY_DIGEST_MISMATCH"
  /** The event does not replay to the quoted (or current) PCR 16. */
  | "IDENTITY_PCR_MISMATCH";

export class NodeIdentityError extends AsterismError<NodeIdentityErrorCode> {
  override readonly domain = "node-identity";
}

/**
 * Lifecycle client and orchestration failures.
 * - `UNAVAILABLE`: the endpoint could not be reached (connection refused, timeout) within the retry budget.
 * - `REFUSED`: the server answered with an error; `remoteCode` holds its code (e.g. `INIT_SECRET_INVALID`).
 * - `INVALID_RESPONSE`: the answer does not have the documented shape.
 * - `BUSY`: the aTLS server refused the connection for now, before judging our evidence (its `BUSY` bound
 *   of pending attestations, or `NOT_READY`: no policy loaded yet); retry with backoff (cause: the AtlsError).
 * - `NOT_TRUSTED`: the peer's attestation failed, or it refused ours (cause: the AtlsError).
 * - `CONFIG_INVALID`: a configuration value (TPM spec, listen address …) is unusable.
 * - `NODE_LOCKED`: the one-way node lock was already taken.
 * - `ABORTED`: the caller aborted (signal) or the deadline passed.
 */
export type LifecycleErrorCode =
  | "UNAVAILABLE"
  | "REFUSED"
  | "BUSY"
  | "INVALID_RESPONSE"
  | "NOT_TRUSTED"
  | "CONFIG_INVALID"
  | "NODE_LOCKED"
  | "ABORTED";

export class LifecycleError extends AsterismError<LifecycleErrorCode> {
  override readonly domain = "lifecycle";
  /** The server's error code for `REFUSED`. */
  readonly remoteCode: string | undefined;
  readonly status: number | undefined;

  constructor(
    code: LifecycleErrorCode,
    action: string,
    detail: ErrorDetail & { remoteCode?: string; status?: number } = {},
  ) {
    super(code, action, detail);
    this.remoteCode = detail.remoteCode;
    this.status = detail.status;
  }
}
