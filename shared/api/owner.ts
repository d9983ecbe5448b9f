import * as v from "valibot";
import { hexString } from "./encoding.ts";

/**
 * What a node records about its cluster's owners (docs/owner.md "Recovery"): the pinned genesis hash of
 * the owners' audit log and the newest log head it was told about. Public values; the node keeps them
 * beside its disk's measurement salt so it can judge a recovery approval before the disk is unlocked.
 * Sent in the init request (by the CLI) and in join tickets (by a JoinService that enforces approvals).
 */
export const OwnerPinWireSchema = v.strictObject({
  anchor: hexString(32),
  head: v.strictObject({
    sequence: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31 - 1)),
    hash: hexString(32),
  }),
});
export type OwnerPinWire = v.InferOutput<typeof OwnerPinWireSchema>;
