// Usage: bun k8s/render/check.ts <kustomization-dir>...
// Renders each directory, validates every object with kubernetes-models and runs Asterism's policy
// checks (render/policy.ts). Exit 0 when everything passes, 1 otherwise.
import { KubeError, validateObject } from "@asterism/kube-apply";
import { checkPolicy, RenderError, renderKustomization } from "./index.ts";

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error("usage: bun k8s/render/check.ts <kustomization-dir>...");
  process.exit(2);
}
let failed = false;
for (const dir of dirs) {
  try {
    const objects = renderKustomization(dir);
    const problems: string[] = [];
    for (const o of objects) {
      try {
        validateObject(o);
      } catch (err) {
        if (!(err instanceof KubeError)) throw err;
        problems.push(`schema ${err.code}: ${err.message}`);
      }
    }
    for (const v of checkPolicy(objects)) problems.push(`policy ${v.code}: ${v.object}: ${v.detail}`);
    console.log(
      `${dir}: ${objects.length} objects, ${problems.length === 0 ? "ok" : `${problems.length} problems`}`,
    );
    for (const p of problems) console.log(`  ${p}`);
    failed ||= problems.length > 0;
  } catch (err) {
    if (!(err instanceof RenderError)) throw err;
    console.log(`${dir}: render ${err.code}: ${err.message}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
