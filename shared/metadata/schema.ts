import { isIP } from "node:net";
import * as v from "valibot";

/** A node's role; the attested identity uses the same two words. */
export const NodeRoleSchema = v.picklist(["control-plane", "worker"]);
export type NodeRole = v.InferOutput<typeof NodeRoleSchema>;

/** Kubernetes node names: lower-case RFC 1123 subdomains, ≤ 253 characters. */
export const NodeNameSchema = v.pipe(
  v.string(),
  v.maxLength(253),
  v.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, "must be a node name"),
);

/** A node has a handful of addresses; 16 is the cap @asterism/kubeadm applies to attested identities too. */
export const MAX_IPS = 16;
export const IpListSchema = v.pipe(
  v.array(
    v.pipe(
      v.string(),
      v.check((s) => isIP(s) !== 0, "must be an IP literal"),
    ),
  ),
  v.maxLength(MAX_IPS),
);

const url = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.check(
    (s) => URL.canParse(s) && ["http:", "https:"].includes(new URL(s).protocol),
    "must be an http(s) URL",
  ),
);

/** Where a node's services answer (all optional: a node registers them as they come up). */
export const EndpointsSchema = v.strictObject({
  init: v.optional(url),
  join: v.optional(url),
  verify: v.optional(url),
  recovery: v.optional(url),
});
export type Endpoints = v.InferOutput<typeof EndpointsSchema>;

/** One instance in `GET /v1/instances`. */
export const InstanceSchema = v.strictObject({
  name: NodeNameSchema,
  role: NodeRoleSchema,
  ips: IpListSchema,
  endpoints: EndpointsSchema,
});
export type Instance = v.InferOutput<typeof InstanceSchema>;

/** `PUT /v1/instances/<name>` body. */
export const PutInstanceSchema = v.strictObject({
  role: NodeRoleSchema,
  ips: IpListSchema,
  endpoints: v.optional(EndpointsSchema, {}),
});
export type PutInstance = v.InferInput<typeof PutInstanceSchema>;

/** bcrypt modular-crypt hashes as Go's x/crypto/bcrypt and Bun.password produce them. */
export const BcryptHashSchema = v.pipe(
  v.string(),
  v.regex(/^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/, "must be a bcrypt hash"),
);

/** `GET /v1/self`: who the calling node is, plus the init-secret hash the CLI registered. */
export const SelfSchema = v.strictObject({
  name: NodeNameSchema,
  role: NodeRoleSchema,
  ips: IpListSchema,
  initSecretHash: v.union([BcryptHashSchema, v.literal("")]),
});
export type Self = v.InferOutput<typeof SelfSchema>;

/** `PUT /v1/cluster` body. */
export const ClusterSchema = v.strictObject({ initSecretHash: BcryptHashSchema });

/** The header a local node names itself with (the launcher sets it; a cloud IMDS knows its caller). */
export const NODE_HEADER = "x-asterism-node";
