import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { RenderError, type RenderErrorCode, renderKustomization, strategicMerge } from "./index.ts";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** Writes a throw-away kustomize tree and returns its root. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "asterism-kustomize-"));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

const CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {a: '1'}\n";
const DS = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: x, namespace: n}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
      - name: c
        image: example/app
        env: [{name: A, value: "1"}, {name: B, value: "2"}]
        ports: [{containerPort: 1, name: p1}]
      - {name: d, image: "example/side:v1"}
      volumes: [{name: s, secret: {secretName: s, defaultMode: 0440}}]
`;

function renderError(fn: () => unknown): RenderErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof RenderError) return err.code;
    throw err;
  }
  throw new Error("expected a RenderError");
}

describe("rejections", () => {
  test.each([
    {
      name: "namespace field (rewrites kube-system objects)",
      kz: "resources: [c.yaml]\nnamespace: x\n",
      want: "UNSUPPORTED",
    },
    {
      name: "commonLabels (rewrites selectors)",
      kz: "resources: [c.yaml]\ncommonLabels: {a: b}\n",
      want: "UNSUPPORTED",
    },
    { name: "generators", kz: "configMapGenerator: [{name: g}]\n", want: "UNSUPPORTED" },
    {
      name: "labels with selectors",
      kz: "resources: [c.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n",
      want: "INVALID_KUSTOMIZATION",
    },
    { name: "inline patch", kz: "resources: [c.yaml]\npatches: [{patch: 'x'}]\n", want: "UNSUPPORTED" },
    { name: "missing resource file", kz: "resources: [nope.yaml]\n", want: "READ_FAILED" },
    { name: "duplicate object", kz: "resources: [c.yaml, c2.yaml]\n", want: "DUPLICATE_RESOURCE" },
    {
      name: "patch without target",
      kz: "resources: [c.yaml]\npatches: [{path: p.yaml}]\n",
      want: "PATCH_TARGET_NOT_FOUND",
    },
    { name: "resource that is not an object", kz: "resources: [bad.yaml]\n", want: "INVALID_RESOURCE" },
    { name: "$patch directive", kz: "resources: [c.yaml]\npatches: [{path: d.yaml}]\n", want: "UNSUPPORTED" },
    { name: "self-reference", kz: "resources: [.]\n", want: "UNSUPPORTED" },
  ])("$name → $want", ({ kz, want }) => {
    const root = tree({
      "kustomization.yaml": kz,
      "c.yaml": CM,
      "c2.yaml": CM,
      "bad.yaml": "just: text\n",
      "p.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: n}\n",
      "d.yaml":
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: n}\ndata: {$patch: replace}\n",
    });
    expect(renderError(() => renderKustomization(root))).toBe(want as RenderErrorCode);
  });
});

describe("transformations", () => {
  test("strategic merge keeps kustomize's element order and merges by key", () => {
    const root = tree({
      "base/kustomization.yaml": "resources: [ds.yaml]\n",
      "base/ds.yaml": DS,
      "o/kustomization.yaml": "resources: [../base]\npatches: [{path: p.yaml}]\n",
      "o/p.yaml": `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: x, namespace: n}
spec:
  template:
    spec:
      containers:
      - {name: e, image: "k:v1"}
      - name: c
        env: [{name: C, value: "3"}, {name: A, value: "9"}]
        ports: [{containerPort: 2, name: p2}]
        args: [x]
`,
    });
    const [ds] = renderKustomization(join(root, "o"));
    const spec = (ds as unknown as { spec: { template: { spec: Record<string, unknown[]> } } }).spec.template
      .spec;
    const containers = spec["containers"] as {
      name: string;
      env?: unknown;
      ports?: unknown;
      args?: unknown;
    }[];
    expect(containers.map((c) => c.name)).toEqual(["e", "c", "d"]);
    expect(containers[1]?.env).toEqual([
      { name: "C", value: "3" },
      { name: "A", value: "9" },
      { name: "B", value: "2" },
    ]);
    expect(containers[1]?.ports).toEqual([
      { containerPort: 2, name: "p2" },
      { containerPort: 1, name: "p1" },
    ]);
    expect(containers[1]?.args).toEqual(["x"]);
    // YAML 1.1 as kubectl reads it: 0440 is octal (288), not decimal 440.
    expect(spec["volumes"]).toEqual([{ name: "s", secret: { secretName: "s", defaultMode: 0o440 } }]);
  });

  test("labels reach metadata (and templates only when asked), never selectors", () => {
    const root = tree({
      "kustomization.yaml":
        "resources: [ds.yaml]\nlabels: [{pairs: {p: q}}, {pairs: {t: u}, includeTemplates: true}]\n",
      "ds.yaml": DS,
    });
    const [ds] = renderKustomization(root);
    expect(ds?.metadata.labels).toEqual({ p: "q", t: "u" });
    const spec = (ds as unknown as { spec: { selector: unknown; template: { metadata: unknown } } }).spec;
    expect(spec.selector).toEqual({ matchLabels: { a: "b" } });
    expect(spec.template.metadata).toEqual({ labels: { a: "b", t: "u" } });
  });

  test.each([
    { name: "tag", rule: "{name: example/app, newTag: v2}", want: "example/app:v2" },
    {
      name: "new name",
      rule: "{name: example/app, newName: reg.io/x/app, newTag: v3}",
      want: "reg.io/x/app:v3",
    },
    {
      name: "digest",
      rule: `{name: example/app, digest: "sha256:${"a".repeat(64)}"}`,
      want: `example/app@sha256:${"a".repeat(64)}`,
    },
  ])("images: $name", ({ rule, want }) => {
    const root = tree({ "kustomization.yaml": `resources: [ds.yaml]\nimages: [${rule}]\n`, "ds.yaml": DS });
    const [ds] = renderKustomization(root);
    const containers = (
      ds as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } }
    ).spec.template.spec.containers;
    expect(containers.map((c) => c.image)).toEqual([want, "example/side:v1"]);
  });
});

test("strategicMerge: null deletes, atomic lists are replaced, inputs untouched", () => {
  const target = { a: { b: 1, c: 2 }, tolerations: [{ key: "x" }, { key: "y" }] };
  const out = strategicMerge("DaemonSet", target, { a: { b: null, d: 3 }, tolerations: [{ key: "z" }] });
  expect(out).toEqual({ a: { c: 2, d: 3 }, tolerations: [{ key: "z" }] });
  expect(target).toEqual({ a: { b: 1, c: 2 }, tolerations: [{ key: "x" }, { key: "y" }] });
});
