import * as models from "@kubernetes/client-node";
import { isRecord } from "./object.ts";

/** A generated client-node model class: its static attribute map names every field the API defines. */
interface ModelClass {
  getAttributeTypeMap(): { baseName: string; type: string }[];
}

/** Bound on recursion: Kubernetes objects nest far less deeply; deeper input is reported, not walked. */
const MAX_DEPTH = 64;

function modelClass(type: string): ModelClass | undefined {
  const c = (models as unknown as Record<string, unknown>)[type];
  return typeof c === "function" && typeof (c as Partial<ModelClass>).getAttributeTypeMap === "function"
    ? (c as unknown as ModelClass)
    : undefined;
}

function walk(value: unknown, type: string, path: string, out: string[], depth: number): void {
  if (depth > MAX_DEPTH) {
    out.push(`${path} (nested too deeply)`);
    return;
  }
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1] !== undefined) {
    if (Array.isArray(value))
      for (const [i, v] of value.entries()) walk(v, array[1], `${path}/${i}`, out, depth + 1);
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1] !== undefined) {
    if (isRecord(value))
      for (const [k, v] of Object.entries(value)) walk(v, map[1], `${path}/${k}`, out, depth + 1);
    return;
  }
  const cls = modelClass(type);
  if (cls === undefined || !isRecord(value)) return; // primitives, Date, IntOrString, any: the schema checks them
  const fields = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type] as const));
  for (const [k, v] of Object.entries(value)) {
    const t = fields.get(k);
    if (t === undefined) out.push(`${path}/${k}`);
    else walk(v, t, `${path}/${k}`, out, depth + 1);
  }
}

/**
 * JSON pointers of fields the Kubernetes API does not define for this kind (using the field lists of
 * @kubernetes/client-node's generated models, which follow the same OpenAPI document). The
 * kubernetes-models schemas allow unknown fields, and so does `kubectl apply` by default: a typo such as
 * `runAsNonroot: true` would be dropped silently and the pod would run as root. The API server's
 * `fieldValidation=Strict` refuses them too; this catches them before any request.
 */
export function unknownFields(value: unknown, kind: string): string[] {
  const out: string[] = [];
  walk(value, `V1${kind}`, "", out, 0);
  return out;
}
