/**
 * Per-node records: the JoinService writes one per node on every ticket it issues (what the node is, and
 * the verdict of the attestation it just passed); the console's overview reads them. Informational: no
 * decision is taken from them (tickets rely on attestation, disk ownership and the owners' approvals).
 */
import { type ClusterState, StateError, type StoredObject } from "@asterism/state";
import * as v from "valibot";

/** Object name prefix, label and data key of node records (config `asterism-node-<node name>`). */
export const NODE_RECORD_PREFIX = "asterism-node-";
export const NODE_RECORD_LABEL = { "asterism.dev/node": "record" } as const;
export const NODE_RECORD_KEY = "node.json";

/** A node and its last attestation. */
export const NodeRecordSchema = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(200)),
  role: v.picklist(["control-plane", "worker"]),
  variant: v.pipe(v.string(), v.maxLength(64)),
  lastAttestation: v.optional(
    v.strictObject({
      at: v.pipe(v.string(), v.isoTimestamp()),
      /** EAR status (draft-ietf-rats-ear): affirming, warning (warn-only mismatches), contraindicated, none. */
      status: v.picklist(["affirming", "warning", "contraindicated", "none"]),
      warnings: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(200))), v.maxLength(32))),
    }),
  ),
});
export type NodeRecord = v.InferOutput<typeof NodeRecordSchema>;

/** Parse a stored node record; undefined when it is not one (records are informational, never trusted). */
export function parseNodeRecord(o: StoredObject): NodeRecord | undefined {
  const raw = o.data[NODE_RECORD_KEY];
  if (!raw) return undefined;
  try {
    const r = v.safeParse(NodeRecordSchema, JSON.parse(new TextDecoder().decode(raw)));
    return r.success ? r.output : undefined;
  } catch {
    return undefined;
  }
}

/** Create or replace a node's record (bounded compare-and-swap). */
export async function writeNodeRecord(state: ClusterState, record: NodeRecord): Promise<void> {
  const r = v.parse(NodeRecordSchema, record);
  const name = `${NODE_RECORD_PREFIX}${r.name}`;
  const data = { [NODE_RECORD_KEY]: new TextEncoder().encode(JSON.stringify(r)) };
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await state.get("config", name);
    try {
      if (cur === undefined) await state.create("config", name, data, { ...NODE_RECORD_LABEL });
      else await state.update("config", name, data, cur.version);
      return;
    } catch (err) {
      if (!(err instanceof StateError && (err.code === "CONFLICT" || err.code === "ALREADY_EXISTS")))
        throw err;
    }
  }
}
