import { isRecord } from "@asterism/kube-apply";
import { RenderError } from "./errors.ts";

/**
 * Merge keys of the associative lists we patch, by field path suffix (Kubernetes `patchMergeKey` tags in
 * k8s.io/api). Lists not named here are atomic: a patch replaces them whole, as strategic merge does for
 * lists without a merge key (tolerations, args, NetworkPolicy ingress rules, ...).
 */
const MERGE_KEYS: readonly { readonly suffix: readonly string[]; readonly key: string }[] = [
  { suffix: ["containers", "ports"], key: "containerPort" },
  { suffix: ["initContainers", "ports"], key: "containerPort" },
  { suffix: ["containers", "env"], key: "name" },
  { suffix: ["initContainers", "env"], key: "name" },
  { suffix: ["containers", "volumeMounts"], key: "mountPath" },
  { suffix: ["initContainers", "volumeMounts"], key: "mountPath" },
  { suffix: ["spec", "containers"], key: "name" },
  { suffix: ["spec", "initContainers"], key: "name" },
  { suffix: ["spec", "volumes"], key: "name" },
  { suffix: ["spec", "imagePullSecrets"], key: "name" },
];

/** Service `spec.ports` merge on `port`; only valid at that exact place in a Service. */
function mergeKeyFor(kind: string, fullPath: readonly string[]): string | undefined {
  const path = fullPath.filter((p) => p !== "[]");
  if (kind === "Service" && path.length === 2 && path[0] === "spec" && path[1] === "ports") return "port";
  for (const { suffix, key } of MERGE_KEYS) {
    if (path.length < suffix.length) continue;
    if (suffix.every((s, i) => path[path.length - suffix.length + i] === s)) return key;
  }
  return undefined;
}

/**
 * Strategic merge of `patch` into `target` for the subset described in k8s/README.md: maps merge
 * recursively, `null` deletes a key, lists with a known merge key merge element-wise (patch elements
 * first in patch order, then the target's untouched elements — the order kustomize produces), every other
 * list is replaced. `$patch`/`$setElementOrder` directives are rejected. Returns a new value; inputs are
 * not modified.
 */
export function strategicMerge(kind: string, target: unknown, patch: unknown, path: string[] = []): unknown {
  if (isRecord(patch)) {
    const base: Record<string, unknown> = isRecord(target) ? { ...target } : {};
    for (const [k, pv] of Object.entries(patch)) {
      if (k.startsWith("$"))
        throw new RenderError("UNSUPPORTED", "Cannot apply strategic merge patch", {
          expected: "no $-directives",
          actual: `${[...path, k].join(".")}`,
        });
      if (pv === null) delete base[k];
      else base[k] = strategicMerge(kind, base[k], pv, [...path, k]);
    }
    return base;
  }
  if (Array.isArray(patch)) {
    const key = mergeKeyFor(kind, path);
    if (key === undefined || !Array.isArray(target)) return structuredClone(patch);
    const used = new Set<number>();
    const merged = patch.map((item) => {
      if (!isRecord(item) || item[key] === undefined)
        throw new RenderError("UNSUPPORTED", "Cannot apply strategic merge patch", {
          expected: `every element of ${path.join(".")} to carry merge key ${key}`,
          actual: JSON.stringify(item),
        });
      const idx = target.findIndex((t) => isRecord(t) && t[key] === item[key]);
      if (idx < 0) return strategicMerge(kind, undefined, item, [...path, "[]"]);
      used.add(idx);
      return strategicMerge(kind, target[idx], item, [...path, "[]"]);
    });
    return [...merged, ...target.filter((_, i) => !used.has(i)).map((t) => structuredClone(t))];
  }
  return patch;
}
