import { createHash } from "node:crypto";
import { parseAttestationDocument, parseVtpmEvidence, type Validator } from "@asterism/attestation";
import { bytesEqual, fromHex, toHex, utf8 } from "@asterism/bytes";
import { decode, encode, sized, struct, u32le } from "@asterism/codec";
import { NodeNameSchema, type NodeRole, NodeRoleSchema } from "@asterism/metadata";
import { EV, EventLogWriter, measureEvent, parseEventLog, TPM_ALG, type Tpm } from "@asterism/tpm";
import * as v from "valibot";
import { NodeIdentityError } from "./errors.ts";

/** The PCR the identity event goes into (docs/lifecycle.md §1); excluded from enforced measurement sets. */
export const NODE_IDENTITY_PCR = 16;
/** `taggedEventID` of the identity event: ASCII "ASTR" read as a big-endian u32 (stored little-endian). */
export const NODE_IDENTITY_EVENT_ID = 0x41535452;
/** The identity JSON is small; the bound keeps hostile logs from making us parse megabytes. */
const MAX_IDENTITY_JSON = 4096;

/** Who a node is: from the metadata service, measured into PCR 16, read back only from attestation. */
export interface NodeIdentity {
  readonly name: string;
  readonly role: NodeRole;
  readonly ips: readonly string[];
}

/**
 * PC Client PFP rev 1.05 §10.4.2.1 (EV_EVENT_TAG) TCG_PCClientTaggedEvent: taggedEventID (UINT32),
 * taggedEventDataSize (UINT32), taggedEventData. Event-log structures are little-endian.
 */
export const TCG_PCClientTaggedEvent = struct("TCG_PCClientTaggedEvent", {
  taggedEventID: u32le,
  taggedEventData: sized(u32le, { max: MAX_IDENTITY_JSON, name: "taggedEventData" }),
});

const IdentityJsonSchema = v.strictObject({
  asterism: v.literal("node-identity"),
  v: v.literal(1),
  name: NodeNameSchema,
  role: NodeRoleSchema,
  ips: v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^[0-9a-fA-F.:]{2,45}$/, "must be an IP literal"))),
    v.maxLength(16),
  ),
});

/**
 * The canonical JSON of an identity: `{"asterism":"node-identity","v":1,"name":…,"role":…,"ips":[…]}`,
 * keys in this order, no spaces (docs/lifecycle.md §1).
 */
export function encodeNodeIdentity(id: NodeIdentity): Uint8Array {
  const checked = v.safeParse(IdentityJsonSchema, {
    asterism: "node-identity",
    v: 1,
    name: id.name,
    role: id.role,
    ips: [...id.ips],
  });
  if (!checked.success)
    throw new NodeIdentityError("IDENTITY_EVENT_INVALID", "Cannot encode node identity", {
      expected: "a node name, a role and at most 16 IP literals",
      actual: checked.issues.map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`).join("; "),
    });
  return utf8(JSON.stringify(checked.output));
}

/** Parse canonical identity JSON; anything that does not re-encode to the same bytes is refused. */
export function parseNodeIdentity(bytes: Uint8Array): NodeIdentity {
  const fail = (actual: string) =>
    new NodeIdentityError("IDENTITY_EVENT_INVALID", "Cannot parse node identity", {
      expected: "canonical node-identity JSON",
      actual,
    });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw fail("not UTF-8 JSON");
  }
  const r = v.safeParse(IdentityJsonSchema, json);
  if (!r.success) throw fail(r.issues.map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`).join("; "));
  const id: NodeIdentity = { name: r.output.name, role: r.output.role, ips: r.output.ips };
  if (!bytesEqual(encodeNodeIdentity(id), bytes)) throw fail("non-canonical encoding");
  return id;
}

/** The identity event's data: a tagged event holding the canonical JSON. */
export function identityEventData(id: NodeIdentity): Uint8Array {
  return encode(TCG_PCClientTaggedEvent, {
    taggedEventID: NODE_IDENTITY_EVENT_ID,
    taggedEventData: encodeNodeIdentity(id),
  });
}

/**
 * Extend PCR 16 with the identity event and return the event log that explains it. With `firmwareLog`
 * (the platform's TCG log, e.g. securityfs `binary_bios_measurements`) the event is appended to it, in its
 * banks, so one log explains both boot and identity; otherwise a fresh SHA-256 log is started. Call
 * exactly once per boot, before the first attestation; keep the log (the bootstrapper writes it to
 * `$ASTERISM_RUN_DIR/eventlog.bin`) and put it into every attestation document.
 */
export async function measureNodeIdentity(
  tpm: Tpm,
  id: NodeIdentity,
  firmwareLog?: Uint8Array,
): Promise<Uint8Array> {
  const log =
    firmwareLog === undefined ? new EventLogWriter([TPM_ALG.SHA256]) : EventLogWriter.resume(firmwareLog);
  await measureEvent(tpm, log, {
    pcrIndex: NODE_IDENTITY_PCR,
    eventType: EV.EVENT_TAG,
    data: identityEventData(id),
  });
  return log.bytes();
}

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/**
 * The node identity a log proves for a given PCR 16 value (the quoted one at the JoinService; the current
 * one when a restarted bootstrapper reuses its log): exactly one event in PCR 16, an `EV_EVENT_TAG` with
 * our tag, its SHA-256 digest = SHA-256(data), SHA-256(0³² ‖ digest) = PCR 16, canonical identity JSON.
 */
export function identityFromEventLog(log: Uint8Array, pcr16: Uint8Array): NodeIdentity {
  let parsed: ReturnType<typeof parseEventLog>;
  try {
    parsed = parseEventLog(log);
  } catch (cause) {
    throw new NodeIdentityError("IDENTITY_LOG_INVALID", "Cannot parse the node's event log", { cause });
  }
  if (!parsed.algorithms.has(TPM_ALG.SHA256))
    throw new NodeIdentityError("IDENTITY_LOG_INVALID", "Cannot use the node's event log", {
      expected: "a SHA-256 bank",
      actual: "none",
    });
  const events = parsed.events.filter(
    (e) => e.pcrIndex === NODE_IDENTITY_PCR && e.eventType !== EV.NO_ACTION,
  );
  if (events.length === 0)
    throw new NodeIdentityError("IDENTITY_EVENT_MISSING", "The node's event log has no identity event", {
      expected: `one event in PCR ${NODE_IDENTITY_PCR}`,
      actual: "none",
    });
  if (events.length > 1)
    throw new NodeIdentityError(
      "IDENTITY_EVENT_DUPLICATE",
      "The node's identity was measured more than once",
      {
        expected: `one event in PCR ${NODE_IDENTITY_PCR}`,
        actual: `${events.length} events`,
      },
    );
  const e = events[0]!;
  if (e.eventType !== EV.EVENT_TAG)
    throw new NodeIdentityError("IDENTITY_EVENT_INVALID", "Cannot use the PCR 16 event", {
      expected: "EV_EVENT_TAG",
      actual: `event type 0x${e.eventType.toString(16)}`,
    });
  const d = e.digests.get(TPM_ALG.SHA256);
  if (!d || !bytesEqual(d, sha256(e.data)))
    throw new NodeIdentityError("IDENTITY_DIGEST_MISMATCH", "The identity event's digest is not its data's", {
      expected: toHex(sha256(e.data)),
      actual: d ? toHex(d) : "no SHA-256 digest",
    });
  const replayed = sha256(new Uint8Array(32), d);
  if (!bytesEqual(replayed, pcr16))
    throw new NodeIdentityError("IDENTITY_PCR_MISMATCH", "The identity event does not explain PCR 16", {
      expected: toHex(pcr16),
      actual: toHex(replayed),
    });
  let tagged: { taggedEventID: number; taggedEventData: Uint8Array };
  try {
    tagged = decode(TCG_PCClientTaggedEvent, e.data);
  } catch (cause) {
    throw new NodeIdentityError("IDENTITY_EVENT_INVALID", "Cannot parse the identity event", { cause });
  }
  if (tagged.taggedEventID !== NODE_IDENTITY_EVENT_ID)
    throw new NodeIdentityError("IDENTITY_EVENT_INVALID", "Cannot use the PCR 16 event", {
      expected: `taggedEventID 0x${NODE_IDENTITY_EVENT_ID.toString(16)}`,
      actual: `0x${tagged.taggedEventID.toString(16)}`,
    });
  return parseNodeIdentity(tagged.taggedEventData);
}

/** Where {@link createIdentityValidator} puts the identity in `VerifiedClaims.details`. */
export const NODE_IDENTITY_DETAIL = "nodeIdentity";

/**
 * Wrap a vTPM validator so that its claims carry the node's attested identity: after the inner validator
 * accepted the document (quote, event-log replay, measurements), the event log is read again from the
 * document and {@link identityFromEventLog} runs against the QUOTED PCR 16. Documents without a valid
 * identity are refused, so a node that cannot prove who it is never reaches the JoinService's handlers.
 */
export function createIdentityValidator(inner: Validator): Validator {
  return {
    variant: inner.variant,
    async validate(document, nonce) {
      const claims = await inner.validate(document, nonce);
      const quoted = claims.measurements[NODE_IDENTITY_PCR];
      if (quoted === undefined)
        throw new NodeIdentityError("IDENTITY_EVENT_MISSING", "PCR 16 was not quoted", {
          expected: "a quote covering PCR 16",
        });
      const evidence = parseVtpmEvidence(parseAttestationDocument(document).evidence);
      if (evidence.eventLog === undefined)
        throw new NodeIdentityError("IDENTITY_EVENT_MISSING", "The document carries no event log", {
          expected: "the node's identity event log",
        });
      const identity = identityFromEventLog(evidence.eventLog, fromHex(quoted));
      return { ...claims, details: { ...claims.details, [NODE_IDENTITY_DETAIL]: identity } };
    },
  };
}

/** The identity {@link createIdentityValidator} attached to verified claims, if any. */
export function identityOfClaims(claims: {
  readonly details: Readonly<Record<string, unknown>>;
}): NodeIdentity | undefined {
  const id = claims.details[NODE_IDENTITY_DETAIL] as NodeIdentity | undefined;
  return id !== undefined && typeof id.name === "string" ? id : undefined;
}
