// Cross-checks our kustomize subset against the real thing: every overlay rendered by `kubectl kustomize`
// must give the same objects (compared as sets: kustomize's "legacy" output order sorts by kind). Skipped
// when kubectl is not installed (Debian's kubernetes-client 1.20 is too old to be useful here); on this
// project's machines kubectl v1.32 with kustomize v5.5 is present.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { objectKey } from "@asterism/kube-apply";
import { repoRoot } from "@asterism/testing";
import { parseAllDocuments } from "yaml";
import { listOverlays, renderKustomization } from "../../k8s/render/index.ts";

// bunfig's [test] timeout is not applied by Bun 1.4.5; slow steps (TLS, compile, umoci) need more than 5 s on a loaded machine.
setDefaultTimeout(30_000);

const K8S = join(repoRoot, "k8s");

function kubectlKustomize(dir: string): string | undefined {
  try {
    const p = Bun.spawnSync(["kubectl", "kustomize", dir], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    return p.exitCode === 0 ? p.stdout.toString() : undefined;
  } catch {
    return undefined;
  }
}

const available = kubectlKustomize(join(K8S, "base")) !== undefined;

describe.skipIf(!available)("our renderer equals kubectl kustomize", () => {
  test.each(["base", ...listOverlays(K8S).map((o) => `overlays/${o}`)])(
    "%s",
    (rel) => {
      const dir = join(K8S, rel);
      const theirs = new Map<string, unknown>();
      // kubectl's output is YAML 1.2-safe (it quotes ambiguous strings), so the default schema reads it exactly.
      for (const doc of parseAllDocuments(kubectlKustomize(dir) ?? "")) {
        const o = doc.toJS() as Parameters<typeof objectKey>[0];
        theirs.set(objectKey(o), o);
      }
      const ours = new Map(renderKustomization(dir).map((o) => [objectKey(o), o] as const));
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
      for (const [key, o] of ours) expect({ key, o }).toEqual({ key, o: theirs.get(key) as typeof o });
    },
    60_000,
  );
});
