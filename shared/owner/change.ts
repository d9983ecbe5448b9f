/**
 * Changes: the only way trust-relevant cluster settings move. A change names its cluster, its place in
 * the audit chain (`sequence`, `previous`), its kind and payload, and a validity window. Owners approve
 * the SHA-256 of its RFC 8785 canonical JSON, which is also the WebAuthn challenge their passkeys sign.
 */
import { createHash } from "node:crypto";
import { parseAttestationPolicy } from "@asterism/attestation";
import { isAsterismError } from "@asterism/errors";
import { measurementsToJson } from "@asterism/measurements";
import * as v from "valibot";
import { canonicalJson, canonicalJsonBytes, parseCanonicalJson } from "./canonical-json.ts";
import { OwnerParseError } from "./errors.ts";
import {
  base64UrlSchema,
  DiskUuidSchema,
  formatTime,
  Hex32Schema,
  MAX_CREDENTIAL_ID_BYTES,
  MAX_PUBLIC_KEY_BYTES,
  NodeNameSchema,
  parseWith,
  TimeSchema,
  textSchema,
} from "./schemas.ts";

/** Format tag of a change: domain separation for the signed bytes, and a version for later formats. */
export const CHANGE_FORMAT = "asterism.owner-change/v1";
/** `previous` of the genesis change: there is no entry before it. */
export const GENESIS_PREVIOUS = "0".repeat(64);
/** Largest canonical change accepted (a policy with every PCR and an SNP section is under 8 KiB). */
export const MAX_CHANGE_BYTES = 256 * 1024;
/** Owners per cluster, and passkeys per owner: enough for a team, small enough to show on one page. */
export const MAX_OWNERS = 16;
export const MAX_CREDENTIALS_PER_OWNER = 8;
/** Longest validity window a change may ask for. */
export const MAX_CHANGE_LIFETIME_SECONDS = 30 * 24 * 3600;

/**
 * COSE algorithms a passkey may use (IANA COSE registry): -7 ES256, -8 EdDSA, -257 RS256 (Windows
 * Hello). Others are refused at enrollment so every verifier supports every enrolled key.
 */
export const SUPPORTED_COSE_ALGORITHMS = [-7, -8, -257] as const;

/** One enrolled passkey: its credential ID and COSE public key (WebAuthn §6.5.1.1), both base64url. */
export const OwnerCredentialSchema = v.strictObject({
  id: base64UrlSchema(MAX_CREDENTIAL_ID_BYTES),
  publicKey: base64UrlSchema(MAX_PUBLIC_KEY_BYTES),
  alg: v.picklist(SUPPORTED_COSE_ALGORITHMS),
  /** Free text to tell passkeys apart ("YubiKey 5C", "laptop"). */
  label: v.optional(textSchema(64)),
});
export type OwnerCredential = v.InferOutput<typeof OwnerCredentialSchema>;

/** An owner: one person (or role) with one or more passkeys. Thresholds count owners, not passkeys. */
export const OwnerSchema = v.strictObject({
  name: textSchema(64),
  credentials: v.pipe(v.array(OwnerCredentialSchema), v.minLength(1), v.maxLength(MAX_CREDENTIALS_PER_OWNER)),
});
export type Owner = v.InferOutput<typeof OwnerSchema>;

/**
 * The WebAuthn relying party the passkeys are scoped to. `id` is the RP ID (the authenticator data
 * carries its SHA-256); `origins` are the pages allowed to run ceremonies. For `localhost` (the CLI's
 * local pages), `http://localhost` allows any port: the passkey is already scoped to the machine.
 */
export const RelyingPartySchema = v.strictObject({
  id: v.pipe(v.string(), v.minLength(1), v.maxLength(253), v.regex(/^[a-z0-9.-]+$/, "must be a host name")),
  origins: v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^https?:\/\/[a-z0-9.-]+(:[0-9]{1,5})?$/, "must be an origin"))),
    v.minLength(1),
    v.maxLength(8),
  ),
});
export type RelyingParty = v.InferOutput<typeof RelyingPartySchema>;

const OwnersSchema = v.pipe(v.array(OwnerSchema), v.minLength(1), v.maxLength(MAX_OWNERS));
const ThresholdSchema = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_OWNERS));
const ReasonSchema = textSchema(500);

/** The attestation policy as JSON (@asterism/attestation's object form), in normalized spelling. */
export const PolicyJsonSchema = v.strictObject({
  variants: v.optional(v.array(v.string())),
  measurements: v.record(v.string(), v.unknown()),
  snp: v.optional(v.record(v.string(), v.unknown())),
});
export type PolicyJson = v.InferOutput<typeof PolicyJsonSchema>;

/** Payload of each change kind. */
export const PayloadSchemas = {
  /** The first entry: the initial owners, their threshold and the relying party. Every passkey proves possession. */
  genesis: v.strictObject({ owners: OwnersSchema, threshold: ThresholdSchema, rp: RelyingPartySchema }),
  /** The full new owner set (add, remove, re-threshold). New passkeys prove possession. */
  "owner-change": v.strictObject({ owners: OwnersSchema, threshold: ThresholdSchema }),
  /** The attestation policy the JoinService and KMS enforce: measurements, TCB minimums, variants. */
  "attestation-policy": v.strictObject({ policy: PolicyJsonSchema }),
  /** Rotate a KMS key (the key-encryption key, or a named key). */
  "kms-key-rotation": v.strictObject({
    key: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "must be a key name")),
    reason: ReasonSchema,
  }),
  /** Refuse these nodes from now on (joins, rejoins, disk keys). */
  "node-revocation": v.strictObject({
    nodes: v.pipe(v.array(NodeNameSchema), v.minLength(1), v.maxLength(64)),
    reason: ReasonSchema,
  }),
  /**
   * Allow one recovery of one node's state disk (every control plane down, DESIGN.md trust flow 6): the
   * node by name, its disk by LUKS UUID, and the fresh nonce the node issued for this recovery
   * (`POST /v1/recover/challenge`), so the approval works once, on that node, during that boot.
   */
  recovery: v.strictObject({
    node: NodeNameSchema,
    disk: DiskUuidSchema,
    nonce: Hex32Schema,
    reason: ReasonSchema,
  }),
} as const;

/** Every change kind. */
export type ChangeKind = keyof typeof PayloadSchemas;
export const CHANGE_KINDS = Object.keys(PayloadSchemas) as ChangeKind[];

const common = {
  format: v.literal(CHANGE_FORMAT),
  /** The cluster the change is for (hex cluster ID): an approval never carries over to another cluster. */
  clusterId: Hex32Schema,
  /** Position in the audit log: 0 for genesis, then one more than the entry it follows. */
  sequence: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 31 - 1)),
  /** Hash of the audit entry this change follows ({@link GENESIS_PREVIOUS} for genesis). */
  previous: Hex32Schema,
  createdAt: TimeSchema,
  expiresAt: TimeSchema,
  /** What the proposer says the change is for; shown to approvers, never trusted. */
  description: v.optional(textSchema(500)),
};

/** A change (a discriminated union on `kind`). */
export const ChangeSchema = v.variant("kind", [
  v.strictObject({ ...common, kind: v.literal("genesis"), payload: PayloadSchemas.genesis }),
  v.strictObject({ ...common, kind: v.literal("owner-change"), payload: PayloadSchemas["owner-change"] }),
  v.strictObject({
    ...common,
    kind: v.literal("attestation-policy"),
    payload: PayloadSchemas["attestation-policy"],
  }),
  v.strictObject({
    ...common,
    kind: v.literal("kms-key-rotation"),
    payload: PayloadSchemas["kms-key-rotation"],
  }),
  v.strictObject({
    ...common,
    kind: v.literal("node-revocation"),
    payload: PayloadSchemas["node-revocation"],
  }),
  v.strictObject({ ...common, kind: v.literal("recovery"), payload: PayloadSchemas.recovery }),
]);
export type Change = v.InferOutput<typeof ChangeSchema>;
/** The change of one kind. */
export type ChangeOf<K extends ChangeKind> = Extract<Change, { kind: K }>;
/** The payload of one kind. */
export type PayloadOf<K extends ChangeKind> = ChangeOf<K>["payload"];

/**
 * Check that a policy JSON is a valid attestation policy and already in normalized spelling (lower-case
 * hex, `{expected, warnOnly}` entries), so what owners see and sign is exactly what services enforce.
 */
function checkPolicyJson(policy: PolicyJson): void {
  const action = "Cannot parse attestation policy change";
  let parsed: ReturnType<typeof parseAttestationPolicy>;
  try {
    parsed = parseAttestationPolicy(canonicalJsonBytes(policy));
  } catch (cause) {
    const code = isAsterismError(cause) ? cause.code : "INVALID";
    throw new OwnerParseError("INVALID_SCHEMA", action, {
      expected: "a valid attestation policy",
      actual: code,
      cause,
    });
  }
  if (canonicalJson(measurementsToJson(parsed.measurements)) !== canonicalJson(policy.measurements)) {
    throw new OwnerParseError("INVALID_SCHEMA", action, {
      expected: 'measurements as {"<index>": {"expected": "<lower-case hex>", "warnOnly": <bool>}}',
      actual: "another spelling",
    });
  }
}

/** Validate an untrusted value as a change (schema, time window shape, policy payload). */
export function parseChangeValue(value: unknown): Change {
  const change = parseWith(ChangeSchema, value, "change");
  if (change.kind === "attestation-policy") checkPolicyJson(change.payload.policy);
  const created = Date.parse(change.createdAt);
  const expires = Date.parse(change.expiresAt);
  if (!(expires > created) || expires - created > MAX_CHANGE_LIFETIME_SECONDS * 1000) {
    throw new OwnerParseError("INVALID_SCHEMA", "Cannot parse change", {
      expected: `expiresAt after createdAt, at most ${MAX_CHANGE_LIFETIME_SECONDS} s later`,
      actual: `${change.createdAt} .. ${change.expiresAt}`,
    });
  }
  return change;
}

/** Parse canonical change bytes (as stored and as hashed). */
export function parseChange(bytes: Uint8Array): Change {
  return parseChangeValue(parseCanonicalJson(bytes, MAX_CHANGE_BYTES, "change"));
}

/** The canonical bytes of a change: what its digest is computed over. */
export function serializeChange(change: Change): Uint8Array {
  return canonicalJsonBytes(change);
}

/**
 * SHA-256 of the change's canonical JSON: the WebAuthn challenge owners sign and the change's identity.
 *
 * @example
 * const challenge = changeDigest(change); // 32 bytes; base64url of it appears in clientDataJSON
 */
export function changeDigest(change: Change): Uint8Array {
  return new Uint8Array(createHash("sha256").update(serializeChange(change)).digest());
}

/** Where a new change goes in the chain: after `head`, or at the start (genesis) when there is none. */
export interface ChainPosition {
  readonly sequence: number;
  readonly hash: string;
}

/** Options of {@link createChange}. */
export interface CreateChangeOptions<K extends ChangeKind> {
  readonly clusterId: string;
  /** The current head of the audit log; absent only for genesis. */
  readonly head: ChainPosition | undefined;
  readonly kind: K;
  readonly payload: PayloadOf<K>;
  readonly now: Date;
  /** Validity window in seconds; default one day. */
  readonly ttlSeconds?: number;
  readonly description?: string;
}

/** Build and validate a change that follows `head`. */
export function createChange<K extends ChangeKind>(opts: CreateChangeOptions<K>): ChangeOf<K> {
  const ttl = opts.ttlSeconds ?? 24 * 3600;
  const created = new Date(Math.floor(opts.now.getTime() / 1000) * 1000);
  const value = {
    format: CHANGE_FORMAT,
    clusterId: opts.clusterId,
    sequence: opts.head ? opts.head.sequence + 1 : 0,
    previous: opts.head ? opts.head.hash : GENESIS_PREVIOUS,
    kind: opts.kind,
    payload: opts.payload,
    createdAt: formatTime(created),
    expiresAt: formatTime(new Date(created.getTime() + ttl * 1000)),
    ...(opts.description === undefined ? {} : { description: opts.description }),
  };
  return parseChangeValue(value) as ChangeOf<K>;
}
