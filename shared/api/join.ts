import * as v from "valibot";
import { base64Bytes, DiskUuidSchema } from "./encoding.ts";
import { MEASUREMENT_SALT_BYTES } from "./init.ts";
import { OwnerPinWireSchema } from "./owner.ts";

/** Disk keys and the measurement secret are 32 bytes (Constellation's `GetDataKey(id, 32)`). */
export const KEY_BYTES = 32;
/** A DER CSR for one P-256/P-384/RSA key is well under this. */
const MAX_CSR_BYTES = 16 * 1024;

/**
 * `POST /v1/join` (JoinService, client-attested aTLS). Unlike Constellation's `IssueJoinTicketRequest`
 * there is no node name or role here: both come from the node's attested identity (PCR 16 event), and
 * `controlPlane` is only a wish that the attested role must allow.
 */
export const JoinRequestSchema = v.strictObject({
  diskUuid: DiskUuidSchema,
  csr: base64Bytes({ max: MAX_CSR_BYTES }),
  controlPlane: v.boolean(),
});
export type JoinRequest = v.InferOutput<typeof JoinRequestSchema>;
export type JoinRequestJson = v.InferInput<typeof JoinRequestSchema>;

/** One control-plane file (names relative to /etc/kubernetes/pki, checked by @asterism/kubeadm). */
export const ControlPlaneFileWireSchema = v.strictObject({
  name: v.pipe(v.string(), v.maxLength(64)),
  data: base64Bytes({ max: 64 * 1024 }),
});

/** The join ticket. Everything secret in it (keys, token, CA keys) is only ever written to private files. */
export const JoinTicketSchema = v.strictObject({
  diskKey: base64Bytes({ length: KEY_BYTES }),
  measurementSecret: base64Bytes({ length: KEY_BYTES }),
  measurementSalt: base64Bytes({ length: MEASUREMENT_SALT_BYTES }),
  /** The kubelet certificate (PEM) for the node's CSR key, bound to its attested name and addresses. */
  kubeletCert: v.pipe(v.string(), v.maxLength(16 * 1024)),
  /**
   * The cluster CA certificate (PEM, public). The node checks it against `caCertHashes` and the kubelet
   * certificate against it before writing either, and embeds it in its kubelet.conf.
   */
  caCert: v.pipe(v.string(), v.maxLength(16 * 1024)),
  apiServerEndpoint: v.pipe(v.string(), v.maxLength(300)),
  token: v.pipe(v.string(), v.regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/)),
  caCertHashes: v.pipe(
    v.array(v.pipe(v.string(), v.regex(/^sha256:[0-9a-f]{64}$/))),
    v.minLength(1),
    v.maxLength(8),
  ),
  controlPlaneFiles: v.pipe(v.array(ControlPlaneFileWireSchema), v.maxLength(16)),
  kubernetesVersion: v.pipe(v.string(), v.maxLength(32)),
  kubernetesComponents: v.pipe(v.array(v.unknown()), v.maxLength(64)),
  /** The owners' anchor and log head, from a JoinService that enforces owner approval (recorded by the node). */
  owner: v.optional(OwnerPinWireSchema),
});
export type JoinTicket = v.InferOutput<typeof JoinTicketSchema>;
export type JoinTicketJson = v.InferInput<typeof JoinTicketSchema>;

/** `POST /v1/rejoin`: only the disk's recorded owner gets its key back. */
export const RejoinRequestSchema = v.strictObject({ diskUuid: DiskUuidSchema });
export type RejoinRequest = v.InferOutput<typeof RejoinRequestSchema>;

/** The rejoin ticket: the disk key and the measurement secret, nothing else. */
export const RejoinTicketSchema = v.strictObject({
  diskKey: base64Bytes({ length: KEY_BYTES }),
  measurementSecret: base64Bytes({ length: KEY_BYTES }),
});
export type RejoinTicket = v.InferOutput<typeof RejoinTicketSchema>;
export type RejoinTicketJson = v.InferInput<typeof RejoinTicketSchema>;
