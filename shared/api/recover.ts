import * as v from "valibot";
import { hexString, MasterSecretWireSchema } from "./encoding.ts";

/**
 * `POST /v1/recover` (bootstrapper of a control plane whose disk is initialized, server-attested aTLS).
 * Constellation's `RecoverMessage` carried the master secret inside a `kms://` URI; here it is the secret
 * itself. The node derives its disk key and the measurement secret; the caller never sees either.
 */
export const RecoverRequestSchema = v.strictObject({ masterSecret: MasterSecretWireSchema });
export type RecoverRequest = v.InferOutput<typeof RecoverRequestSchema>;

/** Answer of a successful recovery: the cluster ID the node extended into PCR 15. */
export const RecoverResponseSchema = v.strictObject({ clusterId: hexString(32) });
export type RecoverResponse = v.InferOutput<typeof RecoverResponseSchema>;
