import * as v from "valibot";
import { DiskUuidSchema, hexString, MasterSecretWireSchema } from "./encoding.ts";
import { OwnerPinWireSchema } from "./owner.ts";

/** Most audit entries a recovery request carries (the owners' log from genesis, @asterism/owner). */
export const MAX_RECOVERY_APPROVAL_ENTRIES = 4096;
/**
 * Largest recovery request: the master secret plus the owners' audit log (a few KiB per entry). Larger
 * than {@link MAX_REQUEST_BYTES} on purpose; the log is still read into memory, so it is bounded.
 */
export const MAX_RECOVER_REQUEST_BYTES = 8 * 1024 * 1024;

/**
 * `POST /v1/recover/challenge` answer (same listener as `/v1/recover`): a fresh nonce for an owner
 * approval of this node's recovery, the node's name and state-disk UUID (what the approval must name),
 * and the owners the node recorded at init or join — absent when it recorded none (no approval needed).
 */
export const RecoveryChallengeSchema = v.strictObject({
  nonce: hexString(32),
  node: v.pipe(v.string(), v.maxLength(253)),
  diskUuid: DiskUuidSchema,
  owner: v.optional(OwnerPinWireSchema),
});
export type RecoveryChallenge = v.InferOutput<typeof RecoveryChallengeSchema>;

/**
 * `POST /v1/recover` (bootstrapper of a control plane whose disk is initialized, server-attested aTLS).
 * Constellation's `RecoverMessage` carried the master secret inside a `kms://` URI; here it is the secret
 * itself. The node derives its disk key and the measurement secret; the caller never sees either.
 *
 * `ownerApproval` is required when the node recorded owners: the audit log from genesis ending with a
 * `recovery` entry for this node, disk and challenge nonce (entries as `asterism audit export` writes
 * them; checked by @asterism/owner `verifyRecoveryApproval`).
 */
export const RecoverRequestSchema = v.strictObject({
  masterSecret: MasterSecretWireSchema,
  ownerApproval: v.optional(
    v.strictObject({
      entries: v.pipe(v.array(v.unknown()), v.minLength(1), v.maxLength(MAX_RECOVERY_APPROVAL_ENTRIES)),
    }),
  ),
});
export type RecoverRequest = v.InferOutput<typeof RecoverRequestSchema>;

/** Answer of a successful recovery: the cluster ID the node extended into PCR 15. */
export const RecoverResponseSchema = v.strictObject({ clusterId: hexString(32) });
export type RecoverResponse = v.InferOutput<typeof RecoverResponseSchema>;
