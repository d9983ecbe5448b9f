import type { KubeClient } from "./client.ts";
import { KubeError } from "./errors.ts";
import { isRecord, type KubeObject, objectKey } from "./object.ts";
import { RESOURCES, resourceFor, resourcePath } from "./resources.ts";
import { validateObject } from "./validate.ts";

/** The field manager Asterism applies as (issue 10: field manager `asterism`). */
export const FIELD_MANAGER = "asterism";

/** Server-side apply options. */
export interface ApplyOptions {
  /** Defaults to {@link FIELD_MANAGER}. */
  readonly fieldManager?: string;
  /**
   * Take ownership of fields another manager set (default true): Asterism's rendered manifests are the
   * source of truth for the objects they name, so a conflicting manual edit is overwritten, not kept.
   */
  readonly force?: boolean;
}

/** What happened to one object. */
export interface ApplyResult {
  readonly key: string;
  /** The object as stored by the API server (with resourceVersion, uid, ...). */
  readonly object: KubeObject;
}

function checkedResponse(value: unknown, action: string): KubeObject {
  if (!isRecord(value) || typeof value["kind"] !== "string" || !isRecord(value["metadata"]))
    throw new KubeError("INVALID_RESPONSE", action, { expected: "a Kubernetes object" });
  return value as KubeObject;
}

/** Apply order: {@link RESOURCES} order (namespaces, accounts, RBAC, policies, config, workloads). */
export function sortForApply(objects: readonly KubeObject[]): KubeObject[] {
  const rank = (o: KubeObject) => RESOURCES.indexOf(resourceFor(o.apiVersion, o.kind));
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i)
    .map((x) => x.o);
}

/**
 * Server-side apply of one object: `PATCH <object path>?fieldManager=asterism&force=true` with
 * `Content-Type: application/apply-patch+yaml` (JSON is YAML). Creates the object when it is absent.
 * The object is schema-checked first, so an invalid manifest never reaches the server.
 */
export async function applyObject(
  client: KubeClient,
  object: KubeObject,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const obj = validateObject(object);
  const r = resourceFor(obj.apiVersion, obj.kind);
  const path = resourcePath(r, obj.metadata.namespace, obj.metadata.name);
  // A resourceVersion in an applied configuration would turn apply into compare-and-swap; rendered
  // manifests never carry one, and a stale one must not sneak in.
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  const body = { ...obj, metadata };
  const stored = await client.request({
    method: "PATCH",
    path,
    // Strict: the API server refuses unknown or duplicate fields instead of dropping them silently.
    query: {
      fieldManager: options.fieldManager ?? FIELD_MANAGER,
      force: String(options.force ?? true),
      fieldValidation: "Strict",
    },
    body,
    contentType: "application/apply-patch+yaml",
  });
  return { key: objectKey(obj), object: checkedResponse(stored, `apply ${objectKey(obj)}`) };
}

/**
 * Applies a rendered manifest set in dependency order. Every object is validated before the first request,
 * so a bad set changes nothing; then objects are applied one by one and the first failure stops the run
 * (already-applied objects stay: apply is idempotent, so re-running after a fix converges).
 *
 * @example
 * await applyAll(createKubeClient({ server, tls }), renderKustomization("k8s/overlays/qemu"));
 */
export async function applyAll(
  client: KubeClient,
  objects: readonly KubeObject[],
  options: ApplyOptions = {},
): Promise<ApplyResult[]> {
  const checked = objects.map((o) => validateObject(o));
  const results: ApplyResult[] = [];
  for (const o of sortForApply(checked)) results.push(await applyObject(client, o, options));
  return results;
}

/** Reads one object; `undefined` when it does not exist. */
export async function getObject(
  client: KubeClient,
  ref: { apiVersion: string; kind: string; namespace?: string; name: string },
): Promise<KubeObject | undefined> {
  const r = resourceFor(ref.apiVersion, ref.kind);
  try {
    const value = await client.request({ method: "GET", path: resourcePath(r, ref.namespace, ref.name) });
    return checkedResponse(value, `get ${ref.kind} ${ref.name}`);
  } catch (err) {
    if (err instanceof KubeError && err.code === "NOT_FOUND") return undefined;
    throw err;
  }
}

/** What {@link createObject} did. */
export interface CreateResult {
  /** False when an object of that name already existed (it is returned unchanged). */
  readonly created: boolean;
  /** The object as stored: the new one, or the one that was already there. */
  readonly object: KubeObject;
}

/**
 * Create an object unless one of that name exists: `POST` to its collection (`fieldValidation=Strict`);
 * on 409 `AlreadyExists` the stored object is read and returned with `created: false`. Never overwrites,
 * unlike {@link applyObject}: for objects whose content must not change once written (key material,
 * certificates), where the caller decides what an existing one means. The object is schema-checked first.
 */
export async function createObject(client: KubeClient, object: KubeObject): Promise<CreateResult> {
  const obj = validateObject(object);
  const r = resourceFor(obj.apiVersion, obj.kind);
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  try {
    const stored = await client.request({
      method: "POST",
      path: resourcePath(r, obj.metadata.namespace),
      query: { fieldValidation: "Strict" },
      body: { ...obj, metadata },
    });
    return { created: true, object: checkedResponse(stored, `create ${objectKey(obj)}`) };
  } catch (err) {
    if (!(err instanceof KubeError && err.code === "CONFLICT")) throw err;
  }
  const existing = await getObject(client, { ...obj, ...obj.metadata });
  if (existing === undefined)
    throw new KubeError("CONFLICT", `create ${objectKey(obj)}`, {
      expected: "the object that refused the create",
      actual: "none (deleted meanwhile)",
    });
  return { created: false, object: existing };
}

/** Options of {@link deleteObject}. */
export interface DeleteOptions {
  /**
   * Delete only if the object is still at this `resourceVersion` (a `DeleteOptions` precondition; 409
   * `CONFLICT` otherwise), so the object that was read and checked is the one removed.
   */
  readonly resourceVersion?: string;
}

/**
 * Deletes one object by name. Idempotent: resolves `"absent"` when it does not exist (404), `"deleted"`
 * when the API server accepted the delete. Other failures throw {@link KubeError}.
 *
 * @example
 * await deleteObject(kube, { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", name: "x" });
 */
export async function deleteObject(
  client: KubeClient,
  ref: { apiVersion: string; kind: string; namespace?: string; name: string },
  options: DeleteOptions = {},
): Promise<"deleted" | "absent"> {
  const r = resourceFor(ref.apiVersion, ref.kind);
  try {
    await client.request({
      method: "DELETE",
      path: resourcePath(r, ref.namespace, ref.name),
      ...(options.resourceVersion === undefined
        ? {}
        : {
            body: {
              apiVersion: "v1",
              kind: "DeleteOptions",
              preconditions: { resourceVersion: options.resourceVersion },
            },
          }),
    });
    return "deleted";
  } catch (err) {
    if (err instanceof KubeError && err.code === "NOT_FOUND") return "absent";
    throw err;
  }
}
