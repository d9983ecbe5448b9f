import {
  API_PATHS,
  RecoverResponseSchema,
  type RecoveryChallenge,
  RecoveryChallengeSchema,
} from "@asterism/api";
import { attestedFetch } from "@asterism/atls";
import type { Validator } from "@asterism/attestation";
import { fromHex, toBase64 } from "@asterism/bytes";
import { LifecycleError } from "./errors.ts";
import { isUnavailable, readAnswer, wrapAtlsFailure } from "./http.ts";

/** Options of {@link recoverNode}. */
export interface RecoverNodeOptions {
  /** `https://<host>:<port>` of the node's recovery endpoint. */
  readonly endpoint: string;
  /** Validators expecting the node's image and PCR 15 = 0 (a rebooted node has not re-extended it yet). */
  readonly validators: readonly Validator[];
  readonly masterSecret: { readonly key: Uint8Array; readonly salt: Uint8Array };
  /**
   * The owners' approval, required by a node that recorded cluster owners (docs/owner.md "Recovery"):
   * the audit log from genesis ending with a `recovery` entry for this node, its disk and the nonce of
   * {@link requestRecoveryChallenge}, as JSON values (`asterism audit export` format).
   */
  readonly ownerApproval?: { readonly entries: readonly unknown[] };
  /**
   * Keep trying while nobody answers, or while the node answers 503 `BUSY` (its recovery listener handles
   * at most two requests at once; the body is sent again), for this long (default 60 s).
   */
  readonly waitForEndpointMs?: number;
  readonly retryIntervalMs?: number;
  readonly now?: () => Date;
}

/**
 * Recovery (DESIGN.md trust flow 6): when every control plane is down, send the master secret to a control
 * plane's recovery endpoint, over server-attested aTLS so the secret only goes to a node that proved its
 * image. The node derives its own disk key and the measurement secret, unlocks its disk and extends PCR 15.
 * Returns the cluster ID the node extended. Errors as {@link initCluster} (`MASTER_SECRET_WRONG` when the
 * derived key does not open the disk).
 */
export async function recoverNode(opts: RecoverNodeOptions): Promise<{ clusterId: Uint8Array }> {
  const action = `Cannot recover the node at ${opts.endpoint}`;
  const deadline = Date.now() + (opts.waitForEndpointMs ?? 60_000);
  const interval = opts.retryIntervalMs ?? 1000;
  const body = JSON.stringify({
    masterSecret: { key: toBase64(opts.masterSecret.key), salt: toBase64(opts.masterSecret.salt) },
    ...(opts.ownerApproval ? { ownerApproval: { entries: [...opts.ownerApproval.entries] } } : {}),
  });
  for (;;) {
    let connected = false;
    try {
      const res = await attestedFetch(
        new URL(API_PATHS.recover, opts.endpoint),
        { method: "POST", headers: { "content-type": "application/json" }, body },
        {
          mode: "server-attested",
          validators: opts.validators,
          ...(opts.now ? { now: opts.now } : {}),
          onAttested: () => {
            connected = true;
          },
        },
      );
      const out = await readAnswer(res, RecoverResponseSchema, action);
      return { clusterId: fromHex(out.clusterId) };
    } catch (err) {
      const busy =
        err instanceof LifecycleError &&
        err.code === "REFUSED" &&
        err.status === 503 &&
        err.remoteCode === "BUSY";
      if ((!busy && (connected || !isUnavailable(err))) || Date.now() + interval > deadline)
        throw wrapAtlsFailure(err, action);
      await Bun.sleep(interval);
    }
  }
}

/**
 * Ask a recovering node (same attested endpoint as {@link recoverNode}) for a fresh nonce to have the
 * owners approve its recovery, and what the approval must name: the node, its disk, and the owners the
 * node recorded (`owner` absent: the node recorded none and needs no approval). The nonce is single-use
 * and lives until the node reboots.
 */
export async function requestRecoveryChallenge(
  opts: Pick<RecoverNodeOptions, "endpoint" | "validators" | "waitForEndpointMs" | "retryIntervalMs" | "now">,
): Promise<RecoveryChallenge> {
  const action = `Cannot get a recovery challenge from ${opts.endpoint}`;
  const deadline = Date.now() + (opts.waitForEndpointMs ?? 60_000);
  const interval = opts.retryIntervalMs ?? 1000;
  for (;;) {
    let connected = false;
    try {
      const res = await attestedFetch(
        new URL(API_PATHS.recoverChallenge, opts.endpoint),
        { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
        {
          mode: "server-attested",
          validators: opts.validators,
          ...(opts.now ? { now: opts.now } : {}),
          onAttested: () => {
            connected = true;
          },
        },
      );
      return await readAnswer(res, RecoveryChallengeSchema, action);
    } catch (err) {
      const busy =
        err instanceof LifecycleError &&
        err.code === "REFUSED" &&
        err.status === 503 &&
        err.remoteCode === "BUSY";
      if ((!busy && (connected || !isUnavailable(err))) || Date.now() + interval > deadline)
        throw wrapAtlsFailure(err, action);
      await Bun.sleep(interval);
    }
  }
}
