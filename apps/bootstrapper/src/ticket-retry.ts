import { describeError } from "@asterism/errors";
import { classifyTicketFailure, type RetryOptions, type TicketFailureKind } from "@asterism/lifecycle";
import type { Logger } from "@asterism/service";

/** Retried failures of one join or rejoin client, by kind (the `refused` kind is never retried). */
export type RetryCounts = Record<Exclude<TicketFailureKind, "refused">, number>;

/**
 * The retry policy of the join and rejoin clients (docs/lifecycle.md §3): `busy` (aTLS `BUSY` /
 * `NOT_READY`), `unavailable` and `transient` failures are retried with the caller's capped, jittered
 * backoff, each counted and logged with its kind (`<flow>.retry`, field `reason`); a `refused` failure
 * (the cluster rejected this node's evidence or request) ends the loop at once.
 */
export function ticketRetryPolicy(
  log: Logger,
  flow: "join" | "rejoin",
): Pick<RetryOptions, "retryable" | "onRetry"> & {
  readonly counts: Readonly<RetryCounts>;
  /** Status error code for a client that gave up with `err`. */
  gaveUpCode(err: unknown): string;
} {
  const counts: RetryCounts = { busy: 0, unavailable: 0, transient: 0 };
  const upper = flow.toUpperCase();
  return {
    counts,
    retryable: (err) => classifyTicketFailure(err) !== "refused",
    onRetry: (err, attempt, delayMs) => {
      const reason = classifyTicketFailure(err);
      if (reason !== "refused") counts[reason]++;
      log.log(attempt < 3 ? "info" : "warn", `${flow}.retry`, {
        attempt,
        delayMs,
        reason,
        busy: counts.busy,
        error: describeError(err).slice(0, 300),
      });
    },
    gaveUpCode: (err) => (classifyTicketFailure(err) === "refused" ? `${upper}_REFUSED` : `${upper}_TIMEOUT`),
  };
}
