/**
 * Renders every overlay into `apps/bootstrapper/src/manifests.generated.json`, which the bootstrapper
 * imports, so the compiled binary carries the manifests and needs no repository checkout at init.
 * scripts/build.ts runs this before compiling; tests/k8s/bootstrapper-apply.test.ts fails when the
 * committed file differs from a fresh render.
 *
 * Usage: bun k8s/render/embed.ts [--check]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { KubeObject } from "@asterism/kube-apply";
import { listOverlays, renderKustomization } from "./kustomize.ts";

const root = resolve(import.meta.dir, "..", "..");

/** Where the bootstrapper expects the rendered overlays. */
export const EMBEDDED_MANIFESTS_PATH = join(root, "apps", "bootstrapper", "src", "manifests.generated.json");

/** Every overlay of `k8s/`, rendered: `{ <overlay>: [objects…] }`, overlays sorted. */
export function renderAllOverlays(k8sDir = join(root, "k8s")): Record<string, KubeObject[]> {
  const out: Record<string, KubeObject[]> = {};
  for (const name of listOverlays(k8sDir)) out[name] = renderKustomization(join(k8sDir, "overlays", name));
  return out;
}

/** The file's text: stable key order (render order), two-space JSON, trailing newline. */
export function embeddedManifestsText(): string {
  return `${JSON.stringify(renderAllOverlays(), null, 2)}\n`;
}

if (import.meta.main) {
  const text = embeddedManifestsText();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(EMBEDDED_MANIFESTS_PATH, "utf8");
    } catch {}
    if (current !== text) {
      console.error(`${EMBEDDED_MANIFESTS_PATH} is stale: run bun k8s/render/embed.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(EMBEDDED_MANIFESTS_PATH, text);
    console.log(`wrote ${EMBEDDED_MANIFESTS_PATH}`);
  }
}
