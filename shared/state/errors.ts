import { AsterismError } from "@asterism/errors";

/**
 * - `NOT_FOUND`: the object does not exist (update/delete).
 * - `ALREADY_EXISTS`: create of a name that is taken.
 * - `CONFLICT`: compare-and-swap lost: the object changed since it was read.
 * - `INVALID_NAME` / `INVALID_DATA`: names and keys follow Kubernetes' rules on every backend, so the
 *   local cluster cannot accept what a real cluster would refuse.
 * - `BACKEND_UNAVAILABLE`: the store could not be reached or answered with an error.
 */
export type StateErrorCode =
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "CONFLICT"
  | "INVALID_NAME"
  | "INVALID_DATA"
  | "BACKEND_UNAVAILABLE";

export class StateError extends AsterismError<StateErrorCode> {
  override readonly domain = "state";
}
