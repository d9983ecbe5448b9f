import { isRecord, type KubeObject, type ResourceInfo, validateObject } from "@asterism/kube-apply";

/** A failure the server turns into a `Status` response. */
export class StatusFailure extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly causes: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

interface Entry {
  object: KubeObject;
  /** Last applied configuration per field manager (server-side apply bookkeeping). */
  applied: Map<string, Record<string, unknown>>;
}

type Json = Record<string, unknown>;

/** Bound on object nesting, so a hostile body cannot blow the stack of the recursive helpers. */
const MAX_DEPTH = 64;

function leafPaths(value: unknown, prefix: string[] = [], out: string[][] = [], depth = 0): string[][] {
  if (depth > MAX_DEPTH) throw new StatusFailure(422, "Invalid", "object nesting too deep");
  if (isRecord(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) leafPaths(v, [...prefix, k], out, depth + 1);
  } else out.push(prefix);
  return out;
}

function getPath(value: unknown, path: string[]): unknown {
  let cur = value;
  for (const p of path) {
    if (!isRecord(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function deletePath(value: Json, path: string[]): void {
  const parent = getPath(value, path.slice(0, -1));
  const last = path[path.length - 1];
  if (isRecord(parent) && last !== undefined) delete parent[last];
}

/** Maps merge, everything else (lists included) is replaced; RFC 7386 `null` deletes. */
function mergeInto(target: unknown, patch: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new StatusFailure(422, "Invalid", "object nesting too deep");
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Json = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergeInto(out[k], v, depth + 1);
  }
  return out;
}

const SERVER_METADATA = [
  "uid",
  "resourceVersion",
  "creationTimestamp",
  "generation",
  "managedFields",
] as const;

/**
 * In-memory object store with the API server's write rules that Asterism relies on: every stored object
 * is schema-validated (422 otherwise), `resourceVersion` is a global counter and a stale one is a 409,
 * create conflicts are 409, namespaced objects need their namespace.
 */
export class ObjectStore {
  private readonly entries = new Map<string, Entry>();
  private revision = 1;

  constructor(initialNamespaces: readonly string[]) {
    for (const name of initialNamespaces) {
      const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name } } as KubeObject;
      this.entries.set(this.key(NAMESPACES, undefined, name), {
        object: this.stamp(ns, undefined),
        applied: new Map(),
      });
    }
  }

  private key(r: ResourceInfo, namespace: string | undefined, name: string): string {
    return `${r.group}/${r.plural}/${namespace ?? ""}/${name}`;
  }

  private stamp(obj: KubeObject, previous: KubeObject | undefined): KubeObject {
    this.revision += 1;
    const metadata = { ...obj.metadata, resourceVersion: String(this.revision) };
    metadata.uid = previous?.metadata.uid ?? crypto.randomUUID();
    (metadata as Json)["creationTimestamp"] =
      (previous?.metadata as Json | undefined)?.["creationTimestamp"] ??
      new Date().toISOString().replace(/\.\d+Z$/, "Z");
    return { ...obj, metadata };
  }

  /** Validates with kubernetes-models; a violation is a 422 `Invalid` listing each field. */
  private validated(obj: unknown): KubeObject {
    try {
      return validateObject(obj);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new StatusFailure(422, "Invalid", message, [{ field: "", message }]);
    }
  }

  private requireNamespace(r: ResourceInfo, namespace: string | undefined): void {
    if (!r.namespaced) return;
    if (namespace === undefined || !this.entries.has(this.key(NAMESPACES, undefined, namespace)))
      throw new StatusFailure(404, "NotFound", `namespaces "${namespace}" not found`);
  }

  private checkIdentity(
    r: ResourceInfo,
    obj: KubeObject,
    namespace: string | undefined,
    name?: string,
  ): void {
    if (obj.kind !== r.kind)
      throw new StatusFailure(400, "BadRequest", `kind ${obj.kind} does not match ${r.kind}`);
    if (name !== undefined && obj.metadata.name !== name)
      throw new StatusFailure(400, "BadRequest", "the name of the object does not match the name in the URL");
    if (r.namespaced && obj.metadata.namespace !== undefined && obj.metadata.namespace !== namespace)
      throw new StatusFailure(
        400,
        "BadRequest",
        "the namespace of the object does not match the namespace in the URL",
      );
  }

  /**
   * The object as the server returns it: with `metadata.managedFields` naming every apply manager
   * (operation `Apply`), one entry per manager. The field sets themselves are not modelled (README.md).
   */
  private view(e: Entry): KubeObject {
    const out = structuredClone(e.object);
    if (e.applied.size > 0)
      (out.metadata as Json)["managedFields"] = [...e.applied.keys()].sort().map((manager) => ({
        manager,
        operation: "Apply",
        apiVersion: out.apiVersion,
        fieldsType: "FieldsV1",
        fieldsV1: {},
      }));
    return out;
  }

  get(r: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
    const e = this.entries.get(this.key(r, namespace, name));
    if (e === undefined) throw new StatusFailure(404, "NotFound", `${r.plural} "${name}" not found`);
    return this.view(e);
  }

  list(
    r: ResourceInfo,
    namespace: string | undefined,
    selector: (labels: Record<string, string>) => boolean,
  ) {
    const prefix = `${r.group}/${r.plural}/`;
    const items: KubeObject[] = [];
    for (const [k, e] of this.entries) {
      if (!k.startsWith(prefix)) continue;
      if (namespace !== undefined && e.object.metadata.namespace !== namespace) continue;
      if (!selector(e.object.metadata.labels ?? {})) continue;
      items.push(this.view(e));
    }
    items.sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(
        `${b.metadata.namespace}/${b.metadata.name}`,
      ),
    );
    return { items, resourceVersion: String(this.revision) };
  }

  create(r: ResourceInfo, namespace: string | undefined, body: unknown): KubeObject {
    const obj = this.validated(body);
    this.checkIdentity(r, obj, namespace);
    this.requireNamespace(r, namespace);
    const key = this.key(r, namespace, obj.metadata.name);
    if (this.entries.has(key))
      throw new StatusFailure(409, "AlreadyExists", `${r.plural} "${obj.metadata.name}" already exists`);
    const clean = this.withoutServerMetadata(obj, namespace, r);
    const stored = this.stamp(clean, undefined);
    this.entries.set(key, { object: stored, applied: new Map() });
    return structuredClone(stored);
  }

  update(r: ResourceInfo, namespace: string | undefined, name: string, body: unknown): KubeObject {
    const obj = this.validated(body);
    this.checkIdentity(r, obj, namespace, name);
    const key = this.key(r, namespace, name);
    const e = this.entries.get(key);
    if (e === undefined) throw new StatusFailure(404, "NotFound", `${r.plural} "${name}" not found`);
    this.checkVersion(r, name, obj.metadata.resourceVersion, e);
    const stored = this.stamp(this.withoutServerMetadata(obj, namespace, r), e.object);
    e.object = stored;
    return structuredClone(stored);
  }

  mergePatch(r: ResourceInfo, namespace: string | undefined, name: string, patch: unknown): KubeObject {
    const key = this.key(r, namespace, name);
    const e = this.entries.get(key);
    if (e === undefined) throw new StatusFailure(404, "NotFound", `${r.plural} "${name}" not found`);
    if (!isRecord(patch)) throw new StatusFailure(400, "BadRequest", "a merge patch must be a JSON object");
    const rv = getPath(patch, ["metadata", "resourceVersion"]);
    this.checkVersion(r, name, typeof rv === "string" ? rv : undefined, e);
    const merged = this.validated(mergeInto(e.object, patch));
    this.checkIdentity(r, merged, namespace, name);
    e.object = this.stamp(this.withoutServerMetadata(merged, namespace, r), e.object);
    return structuredClone(e.object);
  }

  /**
   * Simplified server-side apply (see README.md): the manager's applied configuration is merged over the
   * object (maps recursively, lists atomically), fields this manager applied before and no longer
   * applies are removed, and without `force` a leaf that another apply manager set to a different value
   * is a 409 conflict.
   */
  apply(
    r: ResourceInfo,
    namespace: string | undefined,
    name: string,
    body: unknown,
    manager: string,
    force: boolean,
  ): { object: KubeObject; created: boolean } {
    const config = this.validated(body);
    this.checkIdentity(r, config, namespace, name);
    this.requireNamespace(r, namespace);
    const configJson = this.withoutServerMetadata(config, namespace, r) as Json;
    const key = this.key(r, namespace, name);
    const e = this.entries.get(key);
    if (e === undefined) {
      const stored = this.stamp(configJson as KubeObject, undefined);
      const created: Entry = { object: stored, applied: new Map([[manager, configJson]]) };
      this.entries.set(key, created);
      return { object: this.view(created), created: true };
    }
    this.checkVersion(r, name, config.metadata.resourceVersion, e);
    const leaves = leafPaths(configJson);
    if (!force) {
      for (const [other, otherConfig] of e.applied) {
        if (other === manager) continue;
        for (const p of leaves) {
          const theirs = getPath(otherConfig, p);
          if (theirs !== undefined && JSON.stringify(theirs) !== JSON.stringify(getPath(configJson, p)))
            throw new StatusFailure(
              409,
              "Conflict",
              `Apply failed with 1 conflict: conflict with "${other}": .${p.join(".")}`,
            );
        }
      }
    }
    const base = structuredClone(e.object) as Json;
    const previous = e.applied.get(manager);
    if (previous !== undefined) {
      for (const p of leafPaths(previous)) if (getPath(configJson, p) === undefined) deletePath(base, p);
    }
    if (force) {
      // Forced fields move to this manager: other managers stop owning them.
      for (const [other, otherConfig] of e.applied)
        if (other !== manager) for (const p of leaves) deletePath(otherConfig, p);
    }
    const merged = this.withoutServerMetadata(this.validated(mergeInto(base, configJson)), namespace, r);
    e.applied.set(manager, configJson);
    // A no-op apply leaves resourceVersion alone, as on a real API server (so re-applying is observable).
    if (JSON.stringify(merged) !== JSON.stringify(this.withoutServerMetadata(e.object, namespace, r)))
      e.object = this.stamp(merged, e.object);
    return { object: this.view(e), created: false };
  }

  delete(r: ResourceInfo, namespace: string | undefined, name: string, precondition?: string): KubeObject {
    const key = this.key(r, namespace, name);
    const e = this.entries.get(key);
    if (e === undefined) throw new StatusFailure(404, "NotFound", `${r.plural} "${name}" not found`);
    this.checkVersion(r, name, precondition, e);
    this.entries.delete(key);
    return structuredClone(e.object);
  }

  private checkVersion(r: ResourceInfo, name: string, wanted: string | undefined, e: Entry): void {
    if (wanted !== undefined && wanted !== e.object.metadata.resourceVersion)
      throw new StatusFailure(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
  }

  private withoutServerMetadata(obj: KubeObject, namespace: string | undefined, r: ResourceInfo): KubeObject {
    const metadata: Json = { ...obj.metadata };
    for (const f of SERVER_METADATA) delete metadata[f];
    if (r.namespaced) metadata["namespace"] = namespace;
    return { ...structuredClone(obj), metadata } as KubeObject;
  }
}

const NAMESPACES: ResourceInfo = {
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
};
