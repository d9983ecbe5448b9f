/**
 * Instance metadata for the local cluster (docs/lifecycle.md §2): a small HTTP JSON service on 127.0.0.1 that
 * plays the part of a cloud's instance metadata service (IMDS), and its client. Nodes learn their name,
 * role, IPs and the init-secret hash from it; the CLI and the join client find endpoints in its instance
 * list; only the launcher writes (bearer token).
 *
 * What a node reads here is a claim. It becomes the node's identity only through the PCR 16 event the
 * bootstrapper measures (@asterism/lifecycle), which the JoinService replays from the quoted event log and
 * cross-checks against this list.
 *
 * @module
 */
export { createMetadataClient, type MetadataClient, type MetadataClientOptions } from "./client.ts";
export { MetadataError, type MetadataErrorCode } from "./errors.ts";
export {
  BcryptHashSchema,
  type Endpoints,
  EndpointsSchema,
  type Instance,
  InstanceSchema,
  IpListSchema,
  MAX_IPS,
  NODE_HEADER,
  NodeNameSchema,
  type NodeRole,
  NodeRoleSchema,
  type PutInstance,
  PutInstanceSchema,
  type Self,
  SelfSchema,
} from "./schema.ts";
export { type MetadataServer, type MetadataServerOptions, serveMetadata } from "./server.ts";
