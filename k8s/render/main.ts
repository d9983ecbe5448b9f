// Usage: bun k8s/render/main.ts <kustomization-dir>   → multi-document YAML on stdout.
import { stringify } from "yaml";
import { renderKustomization } from "./index.ts";

const dir = process.argv[2];
if (dir === undefined) {
  console.error("usage: bun k8s/render/main.ts <kustomization-dir>");
  process.exit(2);
}
process.stdout.write(
  renderKustomization(dir)
    .map((o) => stringify(o))
    .join("---\n"),
);
