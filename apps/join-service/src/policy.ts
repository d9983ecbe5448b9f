import {
  type AttestationPolicy,
  createValidator,
  type Validator,
  type ValidatorOptions,
  type Variant,
} from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { describeError } from "@asterism/errors";
import {
  createIdentityValidator,
  NODE_IDENTITY_PCR,
  parseComponentsObject,
  parseJoinConfigObject,
  STATE_OBJECTS,
} from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { type ApprovedStateLoader, enforceApprovedPolicy } from "@asterism/owner";
import type { Logger } from "@asterism/service";
import { type ClusterState, watchObject } from "@asterism/state";
import { JoinServiceError } from "./errors.ts";

/** The join configuration currently in force. */
export interface LoadedJoinConfig {
  readonly policy: AttestationPolicy;
  readonly measurementSalt: Uint8Array;
  readonly kubernetesVersion: string;
  readonly components: readonly unknown[];
  /** Validators of the variants the policy admits, each wrapped to extract the attested identity. */
  readonly validators: ReadonlyMap<Variant, Validator>;
  /** Nodes the owners revoked (@asterism/owner `node-revocation`): refused join and rejoin tickets. */
  readonly revokedNodes: ReadonlySet<string>;
  /** Audit entry that approved the policy in force (undefined when owner approval is not configured). */
  readonly approvedIn?: number;
  /**
   * The owners' anchor and the log head last verified (with owner approval configured): put into join
   * tickets, so a joining node records them for recovery approvals (docs/owner.md "Recovery").
   */
  readonly owner?: {
    readonly anchor: string;
    readonly head: { readonly sequence: number; readonly hash: string };
  };
}

/**
 * Joining nodes must be uninitialized (PCR 15 = 0, reference §2.3) and PCR 16 is per node (its identity):
 * whatever the stored policy says about them is replaced. Returns the effective policy and what changed.
 */
export function effectivePolicy(policy: AttestationPolicy): { policy: AttestationPolicy; notes: string[] } {
  const notes: string[] = [];
  const entries = [...policy.measurements].filter(([i]) => {
    if (i === NODE_IDENTITY_PCR) notes.push("PCR 16 (node identity) dropped from the enforced set");
    return i !== NODE_IDENTITY_PCR;
  });
  const pcr15 = policy.measurements.get(15);
  if (pcr15 === undefined || pcr15.warnOnly || pcr15.expected !== "0".repeat(64))
    notes.push("PCR 15 enforced as 0 (joining nodes must not be part of a cluster yet)");
  const measurements = createMeasurements([
    ...entries.filter(([i]) => i !== 15),
    [15, { expected: new Uint8Array(32), warnOnly: false }],
  ]);
  return { policy: { ...policy, measurements }, notes };
}

/**
 * Holds the join configuration loaded from cluster state and reloads it when it changes (polling with
 * `watchObject`, so both state backends behave alike). A configuration that fails to parse is logged and
 * ignored: the previous one stays in force (or the service stays not-ready).
 *
 * With `approvals` (the owners' approved-state loader, docs/owner.md), the policy enforced is the one the
 * owners approved, re-read from the audit log every `reloadMs`: the join configuration's own policy copy
 * is only compared with it, and a copy edited without approval is refused loudly (`POLICY_NOT_APPROVED`,
 * logged once per episode) while the approved policy stays in force. Until a policy is approved, or while
 * the log has never verified, nothing is loaded and every join is refused (`POLICY_NOT_LOADED`).
 */
export function createJoinConfigHolder(opts: {
  readonly state: ClusterState;
  readonly logger: Logger;
  readonly variants: readonly Variant[];
  readonly validatorOptions?: Omit<ValidatorOptions, "policy">;
  readonly reloadMs: number;
  readonly signal: AbortSignal;
  readonly approvals?: ApprovedStateLoader;
}) {
  let current: LoadedJoinConfig | undefined;
  let components = parseComponentsObject(undefined);
  let stored: ReturnType<typeof parseJoinConfigObject> | undefined;
  let storedVersion = "";
  let lastKey = "";
  const log = opts.logger.child({ component: "join-config" });

  const build = (policy: AttestationPolicy): Map<Variant, Validator> => {
    const m = new Map<Variant, Validator>();
    for (const variant of opts.variants) {
      if (policy.variants !== undefined && !policy.variants.includes(variant)) continue;
      m.set(variant, createIdentityValidator(createValidator(variant, { ...opts.validatorOptions, policy })));
    }
    return m;
  };

  /** Recompute what is in force from the stored join configuration and (if configured) the approvals. */
  const refresh = async () => {
    if (stored === undefined) return;
    let source = stored.policy;
    let revokedNodes: ReadonlySet<string> = new Set();
    let approvedIn: number | undefined;
    let owner: LoadedJoinConfig["owner"];
    if (opts.approvals) {
      try {
        const e = await enforceApprovedPolicy({
          loader: opts.approvals,
          stored: stored.policy,
          object: STATE_OBJECTS.joinConfig,
        });
        source = e.approved.policy;
        approvedIn = e.approved.sequence;
        revokedNodes = new Set(e.state.revokedNodes.keys());
        owner = { anchor: e.state.genesisHash, head: e.state.head };
      } catch (err) {
        // Nothing approved to enforce: keep what is in force (the last approved policy), or stay unloaded.
        const key = `error:${describeError(err)}`;
        if (key !== lastKey) log.log("error", "join.policy_not_approved", { error: describeError(err) });
        lastKey = key;
        return;
      }
    }
    const key = `${storedVersion}:${approvedIn ?? "-"}:${[...revokedNodes].join(",")}:${owner?.head.hash ?? "-"}`;
    if (key === lastKey && current !== undefined) return;
    lastKey = key;
    const { policy, notes } = effectivePolicy(source);
    for (const n of notes) log.log("warn", "join.policy_adjusted", { note: n });
    current = {
      policy,
      measurementSalt: stored.measurementSalt,
      ...components,
      validators: build(policy),
      revokedNodes,
      ...(approvedIn === undefined ? {} : { approvedIn }),
      ...(owner === undefined ? {} : { owner }),
    };
    log.log("info", "join.config_loaded", {
      version: storedVersion,
      measurements: [...policy.measurements.keys()].join(","),
      saltPrefix: toHex(stored.measurementSalt.subarray(0, 4)),
      approvedIn: approvedIn ?? "owner approval not configured",
      revoked: revokedNodes.size,
    });
  };

  const joinWatch = watchObject(opts.state, "config", STATE_OBJECTS.joinConfig, {
    intervalMs: opts.reloadMs,
    signal: opts.signal,
    onChange: async (o) => {
      if (o === undefined) {
        log.log("warn", "join.config_missing", { name: STATE_OBJECTS.joinConfig });
        return;
      }
      try {
        stored = parseJoinConfigObject(o);
        storedVersion = o.version;
      } catch (err) {
        log.log("error", "join.config_invalid", { version: o.version, error: describeError(err) });
        return;
      }
      await refresh();
    },
    onError: (err) => log.log("warn", "join.config_read_failed", { error: describeError(err) }),
  });
  // New audit entries are new objects, not changes of the join configuration: poll the approvals too.
  const approvalsLoop = (async () => {
    while (opts.approvals && !opts.signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.reloadMs);
        opts.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
      if (!opts.signal.aborted)
        await refresh().catch((err) =>
          log.log("warn", "join.approvals_read_failed", { error: describeError(err) }),
        );
    }
  })();
  const componentsWatch = watchObject(opts.state, "config", STATE_OBJECTS.components, {
    intervalMs: opts.reloadMs,
    signal: opts.signal,
    onChange: (o) => {
      try {
        components = parseComponentsObject(o);
        if (current) current = { ...current, ...components };
      } catch (err) {
        log.log("error", "join.components_invalid", { error: describeError(err) });
      }
    },
    onError: (err) => log.log("warn", "join.config_read_failed", { error: describeError(err) }),
  });

  return {
    current: () => current,
    /** The loaded configuration or `POLICY_NOT_LOADED`. */
    require(): LoadedJoinConfig {
      if (current === undefined)
        throw new JoinServiceError("POLICY_NOT_LOADED", "No join configuration loaded yet", {
          expected: `config ${STATE_OBJECTS.joinConfig} in cluster state`,
        });
      return current;
    },
    /**
     * One validator per variant for the aTLS server, fixed at start; each delegates to the policy in
     * force at the time of the handshake.
     */
    validators(): Validator[] {
      return opts.variants.map((variant) => ({
        variant,
        validate: (document: Uint8Array, nonce: Uint8Array) => {
          const v = current?.validators.get(variant);
          if (v === undefined)
            return Promise.reject(
              new JoinServiceError("POLICY_NOT_LOADED", `No policy admits ${variant} nodes now`, {
                expected: "a loaded join configuration that admits this variant",
              }),
            );
          return v.validate(document, nonce);
        },
      }));
    },
    /** Resolves when the watch loops have stopped (after `signal` aborts). */
    stopped: () => Promise.all([joinWatch, componentsWatch, approvalsLoop]).then(() => undefined),
  };
}

export type JoinConfigHolder = ReturnType<typeof createJoinConfigHolder>;
