/**
 * TEST-ONLY: a node's side of a join as the bootstrapper does it — ask for a ticket, retry with backoff
 * while the cluster is unavailable (connection refused/reset, aTLS not answering, HTTP 503), stop at the
 * first real answer (a ticket, or a refusal with a code). Bounded: at most `attempts` tries.
 */
import type { Issuer } from "@asterism/attestation";
import { isUnavailable, LifecycleError, requestJoinTicket, requestRejoinTicket } from "@asterism/lifecycle";

/** The outcome of one node's join. */
export type JoinOutcome =
  | {
      readonly ok: true;
      readonly ticket: {
        readonly diskKey: Uint8Array;
        readonly kubeletCert?: string;
        readonly token?: string;
      };
      readonly attempts: number;
      readonly ms: number;
    }
  | {
      readonly ok: false;
      readonly code: string;
      readonly attempts: number;
      readonly ms: number;
      readonly error: unknown;
    };

/** Retry on "nobody answered" and on 503 answers; everything else is final. */
export function retryable(err: unknown): boolean {
  if (isUnavailable(err)) return true;
  if (err instanceof LifecycleError && err.code === "REFUSED" && err.status === 503) return true;
  // aTLS BUSY / NOT_READY verdicts are LifecycleError BUSY; timeouts under load may be wrapped (NOT_TRUSTED
  // with the AtlsError as cause); look along the cause chain.
  for (
    let e: unknown = err, depth = 0;
    e !== undefined && depth < 4;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: string } | null)?.code;
    if (code === "BUSY" || code === "ATTESTATION_TIMEOUT" || code === "RESPONSE_TIMEOUT") return true;
  }
  return false;
}

export function codeOf(err: unknown): string {
  if (err instanceof LifecycleError) return err.remoteCode ?? err.code;
  return String((err as { code?: string } | null)?.code ?? "UNKNOWN");
}

export async function joinWithRetry(opts: {
  readonly endpoint: () => string;
  readonly issuer: Issuer;
  readonly diskUuid: string;
  readonly csr?: Uint8Array;
  readonly rejoin?: boolean;
  readonly attempts?: number;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}): Promise<JoinOutcome> {
  const t0 = performance.now();
  const max = opts.attempts ?? 20;
  let last: unknown;
  for (let attempt = 1; attempt <= max; attempt++) {
    if (opts.signal?.aborted) break;
    try {
      const base = {
        endpoint: opts.endpoint(),
        issuer: opts.issuer,
        diskUuid: opts.diskUuid,
        timeoutMs: opts.timeoutMs ?? 20_000,
      };
      const ticket = opts.rejoin
        ? await requestRejoinTicket(base)
        : await requestJoinTicket({ ...base, csr: opts.csr as Uint8Array, controlPlane: false });
      return { ok: true, ticket, attempts: attempt, ms: performance.now() - t0 };
    } catch (err) {
      last = err;
      if (!retryable(err))
        return { ok: false, code: codeOf(err), attempts: attempt, ms: performance.now() - t0, error: err };
      // Full jitter, 50 ms doubling to 1 s: a thousand nodes must not retry in lockstep.
      await Bun.sleep(Math.random() * Math.min(1000, 50 * 2 ** attempt));
    }
  }
  return {
    ok: false,
    code: `GAVE_UP:${codeOf(last)}`,
    attempts: max,
    ms: performance.now() - t0,
    error: last,
  };
}
