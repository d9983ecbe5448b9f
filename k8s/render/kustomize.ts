import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { isRecord, type KubeObject, KubeObjectSchema, objectKey } from "@asterism/kube-apply";
import * as v from "valibot";
import {
  type DocumentOptions,
  type ParseOptions,
  parseAllDocuments,
  type ScalarTag,
  type SchemaOptions,
} from "yaml";
import { RenderError } from "./errors.ts";
import { strategicMerge } from "./strategic-merge.ts";

/**
 * The kustomization fields this renderer understands. `strictObject`: any other field (namespace,
 * commonLabels, generators, components, replacements, ...) is an `UNSUPPORTED` error, never ignored.
 */
const KustomizationSchema = v.strictObject({
  apiVersion: v.optional(v.literal("kustomize.config.k8s.io/v1beta1")),
  kind: v.optional(v.literal("Kustomization")),
  resources: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
  labels: v.optional(
    v.array(
      v.strictObject({
        pairs: v.record(v.string(), v.string()),
        includeSelectors: v.optional(v.literal(false)),
        includeTemplates: v.optional(v.boolean()),
      }),
    ),
  ),
  patches: v.optional(v.array(v.strictObject({ path: v.pipe(v.string(), v.minLength(1)) }))),
  images: v.optional(
    v.array(
      v.strictObject({
        name: v.pipe(v.string(), v.minLength(1)),
        newName: v.optional(v.string()),
        newTag: v.optional(v.string()),
        digest: v.optional(v.pipe(v.string(), v.regex(/^sha256:[0-9a-f]{64}$/))),
      }),
    ),
  ),
});

type Kustomization = v.InferOutput<typeof KustomizationSchema>;

/**
 * How kustomize (kyaml, on go-yaml v3) reads scalars: YAML 1.2 core (`n`, `yes`, `on` stay strings) plus
 * the legacy octal form, so `defaultMode: 0440` is 288 as in Kubernetes, not decimal 440 (which would
 * silently grant the wrong file mode).
 */
const LEGACY_OCTAL: ScalarTag = {
  tag: "tag:yaml.org,2002:int",
  default: true,
  format: "OCT",
  test: /^0[0-7]+$/,
  resolve: (s: string) => Number.parseInt(s, 8),
  identify: (v: unknown) => typeof v === "number",
};
const YAML_OPTIONS = {
  version: "1.2",
  customTags: (tags) => [LEGACY_OCTAL, ...tags],
} as const satisfies ParseOptions & DocumentOptions & SchemaOptions;

/** Workload kinds whose pod template carries containers (images) and template labels. */
const POD_TEMPLATE_KINDS = new Set(["DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job"]);

/** Kustomize's nesting bound is the filesystem; ours is explicit, so a reference cycle cannot hang. */
const MAX_DEPTH = 16;

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new RenderError("READ_FAILED", "Cannot read kustomize input", { actual: path, cause });
  }
}

/** Every document of a YAML file, each checked to be a Kubernetes object. Empty documents are skipped. */
export function parseManifestFile(path: string): KubeObject[] {
  const docs = parseAllDocuments(readText(path), YAML_OPTIONS);
  const out: KubeObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0)
      throw new RenderError("INVALID_RESOURCE", "Cannot parse YAML", {
        actual: `${path}: ${doc.errors[0]?.message ?? "error"}`,
      });
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const parsed = v.safeParse(KubeObjectSchema, value);
    if (!parsed.success)
      throw new RenderError("INVALID_RESOURCE", "Cannot read Kubernetes object", {
        expected: "apiVersion, kind, metadata.name",
        actual: `${path}: ${v.summarize(parsed.issues)}`,
      });
    out.push(parsed.output);
  }
  return out;
}

function loadKustomization(dir: string): Kustomization {
  const docs = parseAllDocuments(readText(join(dir, "kustomization.yaml")), YAML_OPTIONS);
  const first = docs[0];
  if (docs.length !== 1 || first === undefined || first.errors.length > 0)
    throw new RenderError("INVALID_KUSTOMIZATION", "Cannot parse kustomization.yaml", {
      expected: "one YAML document",
      actual: dir,
    });
  const parsed = v.safeParse(KustomizationSchema, first.toJS());
  if (!parsed.success) {
    const unknownKey = parsed.issues.find((i) => i.type === "strict_object");
    throw new RenderError(
      unknownKey === undefined ? "INVALID_KUSTOMIZATION" : "UNSUPPORTED",
      `Cannot render ${dir}`,
      {
        expected: "the kustomize subset documented in k8s/README.md",
        actual: v.summarize(parsed.issues),
      },
    );
  }
  return parsed.output;
}

function addLabels(obj: KubeObject, pairs: Record<string, string>, includeTemplates: boolean): KubeObject {
  const out = structuredClone(obj);
  out.metadata.labels = { ...(out.metadata.labels ?? {}), ...pairs };
  if (includeTemplates && POD_TEMPLATE_KINDS.has(out.kind)) {
    const template = (out["spec"] as { template?: { metadata?: { labels?: Record<string, string> } } })
      ?.template;
    if (template !== undefined) {
      template.metadata ??= {};
      template.metadata.labels = { ...(template.metadata.labels ?? {}), ...pairs };
    }
  }
  return out;
}

/** Splits `registry:5000/a/b:tag@sha256:...` into its name (with registry) and the rest. */
function imageName(image: string): string {
  const noDigest = image.split("@")[0] ?? image;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

function setImages(obj: KubeObject, images: NonNullable<Kustomization["images"]>): KubeObject {
  if (!POD_TEMPLATE_KINDS.has(obj.kind)) return obj;
  const out = structuredClone(obj);
  const podSpec = (out["spec"] as { template?: { spec?: Record<string, unknown> } })?.template?.spec;
  if (podSpec === undefined) return out;
  for (const field of ["containers", "initContainers"]) {
    const list = podSpec[field];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!isRecord(c) || typeof c["image"] !== "string") continue;
      const name = imageName(c["image"]);
      const rule = images.find((i) => i.name === name);
      if (rule === undefined) continue;
      if (rule.digest !== undefined && rule.newTag !== undefined)
        throw new RenderError("UNSUPPORTED", `Cannot set image ${rule.name}`, {
          expected: "newTag or digest",
          actual: "both",
        });
      const newName = rule.newName ?? name;
      const current = c["image"].slice(name.length);
      c["image"] =
        rule.digest !== undefined
          ? `${newName}@${rule.digest}`
          : rule.newTag !== undefined
            ? `${newName}:${rule.newTag}`
            : `${newName}${current}`;
    }
  }
  return out;
}

function patchIdentity(p: KubeObject): string {
  return objectKey(p);
}

function renderDir(dir: string, depth: number): KubeObject[] {
  if (depth > MAX_DEPTH)
    throw new RenderError("UNSUPPORTED", "Cannot render nested kustomizations", {
      expected: `at most ${MAX_DEPTH} levels`,
      actual: dir,
    });
  const k = loadKustomization(dir);
  let objects: KubeObject[] = [];
  for (const ref of k.resources ?? []) {
    const path = resolve(dir, ref);
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch (cause) {
      throw new RenderError("READ_FAILED", `Cannot read resource of ${dir}`, { actual: ref, cause });
    }
    objects.push(...(isDir ? renderDir(path, depth + 1) : parseManifestFile(path)));
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const key = objectKey(o);
    if (seen.has(key)) throw new RenderError("DUPLICATE_RESOURCE", `Cannot render ${dir}`, { actual: key });
    seen.add(key);
  }
  for (const entry of k.patches ?? []) {
    for (const patch of parseManifestFile(resolve(dir, entry.path))) {
      const idx = objects.findIndex((o) => objectKey(o) === patchIdentity(patch));
      const target = objects[idx];
      if (target === undefined)
        throw new RenderError("PATCH_TARGET_NOT_FOUND", `Cannot apply patch ${entry.path}`, {
          actual: patchIdentity(patch),
        });
      objects[idx] = strategicMerge(target.kind, target, patch) as KubeObject;
    }
  }
  for (const l of k.labels ?? []) {
    objects = objects.map((o) => addLabels(o, l.pairs, l.includeTemplates ?? false));
  }
  if (k.images !== undefined) {
    const images = k.images;
    objects = objects.map((o) => setImages(o, images));
  }
  return objects;
}

/**
 * Renders a kustomization directory with the subset of kustomize that Asterism's manifests use
 * (`resources` files and directories, `labels` without selectors, `patches` by path as strategic merge,
 * `images`), in resource order. Any other field is an `UNSUPPORTED` error. tests/k8s cross-checks the output
 * against `kubectl kustomize` when that is installed.
 *
 * @example
 * const objects = renderKustomization("k8s/overlays/qemu");
 */
export function renderKustomization(dir: string): KubeObject[] {
  return renderDir(resolve(dir), 0);
}

/** The overlay names under `<k8sDir>/overlays` (each a directory with a kustomization.yaml). */
export function listOverlays(k8sDir: string): string[] {
  return readdirSync(join(k8sDir, "overlays"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}
