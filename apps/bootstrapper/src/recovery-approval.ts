/**
 * The owners' gate on recovery (docs/owner.md "Recovery"). A node whose state disk recorded the cluster's
 * owners (anchor and log head, in the LUKS2 token beside the measurement salt) accepts a master secret
 * for recovery only together with the owners' approval: the audit log from genesis ending with a
 * `recovery` change for this node, this disk and a nonce this node issued during this boot. Nonces live
 * in memory only, are single-use, expire, and are bounded in number: an approval works for one attempt,
 * and never after a reboot. A node that recorded no owners behaves as before owner approval existed.
 */
import type { OwnerPinWire, RecoveryChallenge } from "@asterism/api";
import { toHex } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import { type AuditEntry, parseAuditEntryValue, verifyRecoveryApproval } from "@asterism/owner";
import type { Logger } from "@asterism/service";
import { BootstrapperError } from "./errors.ts";

/** How long a recovery nonce stays usable: long enough for the owners to approve, short enough to expire. */
export const RECOVERY_NONCE_TTL_MS = 2 * 3600_000;
/** Outstanding nonces per boot; the oldest is dropped beyond this (anyone may ask for one). */
export const MAX_RECOVERY_NONCES = 16;

/** What the gate needs. */
export interface RecoveryGateDeps {
  readonly node: string;
  readonly diskUuid: string;
  /** What the disk recorded at init or join; undefined: no owners, recovery needs the master secret only. */
  readonly owner: OwnerPinWire | undefined;
  readonly now: () => Date;
  readonly random: (n: number) => Uint8Array;
  readonly logger: Logger;
}

/** The verified approval a recovery ran under, for logs. */
export interface RecoveryApproval {
  readonly sequence: number;
  readonly approvedBy: readonly string[];
}

/** Create the gate for one boot of the node. */
export function createRecoveryGate(deps: RecoveryGateDeps) {
  const issued = new Map<string, number>();
  const log = deps.logger.child({ component: "recovery-approval" });

  const prune = () => {
    const t = deps.now().getTime();
    for (const [n, expires] of issued) if (expires <= t) issued.delete(n);
    while (issued.size >= MAX_RECOVERY_NONCES) issued.delete(issued.keys().next().value as string);
  };

  /** Take (and forget) a nonce issued during this boot and not expired. */
  const take = (nonce: string): boolean => {
    const expires = issued.get(nonce);
    issued.delete(nonce);
    return expires !== undefined && expires > deps.now().getTime();
  };

  return {
    /** A fresh nonce for an approval, and what the approval must name. */
    challenge(): RecoveryChallenge {
      prune();
      const nonce = toHex(deps.random(32));
      issued.set(nonce, deps.now().getTime() + RECOVERY_NONCE_TTL_MS);
      return {
        nonce,
        node: deps.node,
        diskUuid: deps.diskUuid,
        ...(deps.owner ? { owner: deps.owner } : {}),
      };
    },

    /**
     * Check the approval carried by a recovery request. Without recorded owners nothing is required (an
     * approval sent anyway is ignored and logged). With them: `OWNER_APPROVAL_REQUIRED` when none is sent,
     * `OWNER_APPROVAL_INVALID` (cause: the @asterism/owner error, e.g. `RECOVERY_NONCE_INVALID`) when it
     * does not verify. The nonce is consumed once the approval verifies, whatever happens next.
     */
    async check(
      approval: { readonly entries: readonly unknown[] } | undefined,
    ): Promise<RecoveryApproval | undefined> {
      const pin = deps.owner;
      if (pin === undefined) {
        if (approval !== undefined)
          log.log("warn", "recovery.approval_ignored", {
            reason: "this node recorded no cluster owners at init or join",
          });
        return undefined;
      }
      if (approval === undefined)
        throw new BootstrapperError(
          "OWNER_APPROVAL_REQUIRED",
          "Recovery refused: the cluster owners must approve it",
          {
            expected: `an owner approval from the log with genesis ${pin.anchor}`,
            actual: "none",
          },
        );
      try {
        const entries: AuditEntry[] = approval.entries.map((e) => parseAuditEntryValue(e));
        const ok = await verifyRecoveryApproval({
          entries,
          pin: { anchor: pin.anchor, head: pin.head },
          node: deps.node,
          disk: deps.diskUuid,
          nonceIssued: take,
          now: deps.now(),
        });
        log.log("info", "recovery.approved", {
          sequence: ok.sequence,
          entry: ok.hash,
          approvedBy: ok.approvedBy.join(","),
        });
        return { sequence: ok.sequence, approvedBy: ok.approvedBy };
      } catch (cause) {
        const code = isAsterismError(cause) ? cause.code : "INVALID";
        log.log("warn", "recovery.approval_refused", {
          code,
          reason: cause instanceof Error ? cause.message.slice(0, 300) : "invalid",
        });
        throw new BootstrapperError(
          "OWNER_APPROVAL_INVALID",
          "Recovery refused: the owners' approval does not verify",
          {
            actual: code,
            cause,
          },
        );
      }
    },
  };
}

export type RecoveryGate = ReturnType<typeof createRecoveryGate>;

/** The code of the owner-module error behind an `OWNER_APPROVAL_INVALID` (a closed, fixed identifier). */
export function approvalRefusalCode(err: BootstrapperError): string | undefined {
  return isAsterismError(err.cause) ? err.cause.code : undefined;
}
