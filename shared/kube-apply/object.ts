import * as v from "valibot";

/** Object metadata as far as Asterism reads or writes it; everything else passes through untouched. */
export const ObjectMetaSchema = v.looseObject({
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(253)),
  namespace: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(63))),
  labels: v.optional(v.record(v.string(), v.string())),
  annotations: v.optional(v.record(v.string(), v.string())),
  resourceVersion: v.optional(v.string()),
  uid: v.optional(v.string()),
});

/** Any Kubernetes object: apiVersion, kind, metadata.name, and arbitrary further fields. */
export const KubeObjectSchema = v.looseObject({
  apiVersion: v.pipe(v.string(), v.minLength(1)),
  kind: v.pipe(v.string(), v.minLength(1)),
  metadata: ObjectMetaSchema,
});

/** A Kubernetes object (see {@link KubeObjectSchema}). */
export type KubeObject = v.InferOutput<typeof KubeObjectSchema>;

/** A JSON value as stored in Kubernetes objects. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** True for a plain (non-array, non-null) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `group/version/kind/namespace/name` (namespace empty for cluster-scoped objects): unique per object. */
export function objectKey(obj: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): string {
  const group = obj.apiVersion.includes("/") ? obj.apiVersion.split("/")[0] : "";
  return `${group}/${obj.kind}/${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
}
