import { LifecycleError } from "./errors.ts";

/** Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"). */
export interface BackoffOptions {
  /** First ceiling, in ms (default 1000). */
  readonly baseMs?: number;
  /** Largest ceiling, in ms (default 30 000). */
  readonly capMs?: number;
  /** Uniform [0, 1) source (injected in tests). */
  readonly random?: () => number;
}

/**
 * The delay before retry number `attempt` (0-based): uniform in [0, min(cap, base · 2^attempt)). Full jitter
 * spreads a crowd of restarting nodes over the whole window instead of synchronising them.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 1000;
  const cap = opts.capMs ?? 30_000;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor((opts.random ?? Math.random)() * ceiling);
}

/** Options of {@link retryWithBackoff}. */
export interface RetryOptions extends BackoffOptions {
  /** Stop retrying (the current attempt runs to completion). */
  readonly signal?: AbortSignal;
  /** Give up after this instant (ms since epoch, `now()` clock). */
  readonly deadline?: number;
  readonly now?: () => number;
  /** Called after each failed attempt with the error and the delay before the next. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Return false to stop retrying on this error (it is rethrown). Default: retry everything. */
  readonly retryable?: (err: unknown) => boolean;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Run `fn` until it succeeds, sleeping {@link backoffDelay} between attempts; bounded by `deadline` and
 * `signal` (then `ABORTED` with the last error as cause). Every attempt must bound itself (timeouts).
 */
export async function retryWithBackoff<T>(
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions = {},
): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? abortableSleep;
  let last: unknown;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted || (opts.deadline !== undefined && now() >= opts.deadline))
      throw new LifecycleError("ABORTED", "Gave up retrying", {
        expected: "success before the deadline",
        actual: `${attempt} attempts`,
        cause: last,
      });
    try {
      return await fn(attempt);
    } catch (err) {
      if (opts.retryable && !opts.retryable(err)) throw err;
      last = err;
      let delay = backoffDelay(attempt, opts);
      if (opts.deadline !== undefined) delay = Math.max(0, Math.min(delay, opts.deadline - now()));
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
    }
  }
}
