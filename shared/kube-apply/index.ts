/**
 * Kubernetes objects for Asterism: a fixed resource table, schema validation with `kubernetes-models`, a
 * small REST client on Bun's `fetch` (whose `tls: { ca, cert, key }` is honoured, unlike
 * @kubernetes/client-node's TLS options under Bun), server-side apply with field manager `asterism`, and
 * idempotent delete by name.
 *
 * @module
 */

export {
  type ApplyOptions,
  type ApplyResult,
  applyAll,
  applyObject,
  type CreateResult,
  createObject,
  type DeleteOptions,
  deleteObject,
  FIELD_MANAGER,
  getObject,
  sortForApply,
} from "./apply.ts";
export {
  createKubeClient,
  type KubeClient,
  type KubeClientOptions,
  type KubeFetch,
  type KubeRequest,
  type KubeTls,
} from "./client.ts";
export { KubeError, type KubeErrorCode } from "./errors.ts";
export {
  isRecord,
  type JsonValue,
  type KubeObject,
  KubeObjectSchema,
  ObjectMetaSchema,
  objectKey,
} from "./object.ts";
export { apiVersionOf, RESOURCES, type ResourceInfo, resourceFor, resourcePath } from "./resources.ts";
export { unknownFields } from "./strict.ts";
export { type SchemaViolation, schemaViolations, validateObject } from "./validate.ts";
