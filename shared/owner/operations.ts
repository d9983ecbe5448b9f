/**
 * Operations that need an approval each time they run (KMS key rotation), and the record of which
 * approvals were carried out. An approval authorizes one run: the operation records the approval's
 * sequence when it finishes, and the next run needs a newer approval.
 *
 * The record lives in cluster state, so whoever can write that state can erase it and make a service
 * repeat an operation the owners approved once. For rotation that is harmless (another new key version);
 * it never lets anyone run an operation the owners did not approve.
 */
import type { Logger } from "@asterism/service";
import { type ClusterState, StateError } from "@asterism/state";
import * as v from "valibot";
import { ChangeRejectedError } from "./errors.ts";
import { createApprovedStateLoader } from "./loader.ts";
import { OWNER_LABEL } from "./store.ts";

const RECORD_PREFIX = "asterism-rotation-";
const RecordSchema = v.strictObject({ sequence: v.pipe(v.number(), v.integer(), v.minValue(0)) });

/** An approved key rotation that has not been carried out yet. */
export interface PendingRotation {
  readonly key: string;
  /** Sequence of the audit entry that approved it. */
  readonly sequence: number;
  readonly changeDigest: string;
  readonly reason: string;
}

async function readRecord(state: ClusterState, key: string) {
  const o = await state.get("config", `${RECORD_PREFIX}${key}`);
  if (!o) return { sequence: -1, version: undefined };
  const raw = o.data["record.json"];
  const r = raw ? v.safeParse(RecordSchema, JSON.parse(new TextDecoder().decode(raw))) : undefined;
  return { sequence: r?.success ? r.output.sequence : -1, version: o.version };
}

/**
 * The newest approved rotation of `key` not carried out yet, from the audit log verified against
 * `anchor`; `NOT_APPROVED` when there is none (never approved, or already done).
 */
export async function approvedRotation(opts: {
  state: ClusterState;
  anchor: string;
  key: string;
  logger: Logger;
}): Promise<PendingRotation> {
  const loaded = await createApprovedStateLoader(opts).load();
  const approvals = loaded.state.keyRotations.filter((e) => e.payload.key === opts.key);
  const newest = approvals[approvals.length - 1];
  const done = await readRecord(opts.state, opts.key);
  if (!newest || newest.sequence <= done.sequence) {
    throw new ChangeRejectedError("NOT_APPROVED", `Rotation of key ${opts.key} not approved`, {
      expected: "an approved kms-key-rotation change not carried out yet",
      actual: newest ? `the last approval (entry ${newest.sequence}) was carried out` : "no approval",
    });
  }
  return {
    key: opts.key,
    sequence: newest.sequence,
    changeDigest: newest.changeDigest,
    reason: newest.payload.reason,
  };
}

/** Record that the rotation approved in entry `sequence` was carried out (bounded compare-and-swap). */
export async function recordRotationDone(state: ClusterState, rotation: PendingRotation): Promise<void> {
  const name = `${RECORD_PREFIX}${rotation.key}`;
  const data = { "record.json": new TextEncoder().encode(JSON.stringify({ sequence: rotation.sequence })) };
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await readRecord(state, rotation.key);
    if (cur.sequence >= rotation.sequence) return;
    try {
      if (cur.version === undefined)
        await state.create("config", name, data, { [OWNER_LABEL]: "operation-record" });
      else await state.update("config", name, data, cur.version);
      return;
    } catch (err) {
      if (!(err instanceof StateError) || (err.code !== "CONFLICT" && err.code !== "ALREADY_EXISTS"))
        throw err;
    }
  }
  throw new StateError("CONFLICT", `Cannot record rotation of ${rotation.key}`, {
    expected: "a write within 5 attempts",
  });
}
