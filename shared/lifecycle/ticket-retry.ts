import { AtlsError } from "@asterism/atls";
import { LifecycleError } from "./errors.ts";

/**
 * What a failed ticket request (join or rejoin) means for the node's retry loop (docs/lifecycle.md §3):
 * - `busy`: the JoinService refused the connection before judging the evidence (aTLS `BUSY` / `NOT_READY`
 *   verdict, HTTP 429): retry with backoff, and count it, since many of them mean the service is overloaded;
 * - `unavailable`: nobody answered (refused/reset connection, handshake never completed);
 * - `transient`: anything else that another attempt can cure (HTTP 5xx, a timeout while the server waited
 *   for or validated our evidence, our own TPM failing once, an answer of the wrong shape);
 * - `refused`: the cluster judged this node and said no: the server rejected our evidence (any other aTLS
 *   verdict) or the request (HTTP 4xx, e.g. `IDENTITY_MISMATCH`, `DISK_OWNED_BY_OTHER_NODE`). Final: the
 *   same evidence and request get the same answer, so the node stops instead of retrying for an hour.
 */
export type TicketFailureKind = "busy" | "unavailable" | "transient" | "refused";

/** aTLS verdicts that are not a judgement of the evidence (the server gave up waiting under load). */
const TRANSIENT_VERDICTS = new Set(["ATTESTATION_TIMEOUT"]);

/** Classify a failure of `requestJoinTicket` / `requestRejoinTicket` (see {@link TicketFailureKind}). */
export function classifyTicketFailure(err: unknown): TicketFailureKind {
  if (!(err instanceof LifecycleError)) return "transient";
  switch (err.code) {
    case "BUSY":
      return "busy";
    case "UNAVAILABLE":
      return "unavailable";
    case "REFUSED": {
      const status = err.status ?? 0;
      if (status === 429) return "busy";
      return status >= 400 && status < 500 ? "refused" : "transient";
    }
    case "NOT_TRUSTED": {
      // In client-attested mode only the server's verdict judges us; any other aTLS failure is local or
      // a broken peer (our issuer failed, a non-aTLS listener at a stale endpoint), not the cluster's word.
      const cause = err.cause;
      if (!(cause instanceof AtlsError) || cause.code !== "PEER_REJECTED") return "transient";
      return TRANSIENT_VERDICTS.has(cause.actual ?? "") ? "transient" : "refused";
    }
    default:
      return "transient";
  }
}

/** True unless the failure is the cluster's final answer (`refused`); for `retryWithBackoff({ retryable })`. */
export function isRetryableTicketFailure(err: unknown): boolean {
  return classifyTicketFailure(err) !== "refused";
}

/**
 * One round over the JoinService endpoints: the first ticket wins. When none gives one, a `refused`
 * failure from any of them is thrown (the caller stops retrying), else the last failure. The remaining
 * endpoints are still asked after a refusal, so one rogue endpoint in the metadata cannot fail a node
 * that a real JoinService admits in the same round. Stops early when `signal` aborts.
 */
export async function askEndpoints<T>(
  endpoints: readonly string[],
  ask: (endpoint: string) => Promise<T>,
  opts: { readonly signal?: AbortSignal; readonly none: string },
): Promise<T> {
  let last: unknown = new LifecycleError("UNAVAILABLE", opts.none);
  let refusal: unknown;
  for (const endpoint of endpoints) {
    if (opts.signal?.aborted) break;
    try {
      return await ask(endpoint);
    } catch (err) {
      last = err;
      if (refusal === undefined && classifyTicketFailure(err) === "refused") refusal = err;
    }
  }
  throw refusal ?? last;
}
