import { expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { RenderError, strategicMerge } from "./index.ts";

const json = fc.jsonValue({ maxDepth: 6 });
const keys = fc.constantFrom(
  "spec",
  "template",
  "containers",
  "env",
  "name",
  "ports",
  "volumes",
  "$patch",
  "x",
);
const shaped = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    json,
    fc.array(tie("node"), { maxLength: 4 }),
    fc.dictionary(keys, tie("node"), { maxKeys: 4 }),
  ),
})).node;

test("strategicMerge: any input merges or throws RenderError, and never mutates its inputs", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("DaemonSet", "Service", "ConfigMap"),
      shaped,
      shaped,
      (kind, target, patch) => {
        const t0 = JSON.stringify(target);
        const p0 = JSON.stringify(patch);
        try {
          strategicMerge(kind, target, patch);
        } catch (err) {
          expect(err).toBeInstanceOf(RenderError);
          expect(["UNSUPPORTED"]).toContain((err as RenderError).code);
        }
        expect(JSON.stringify(target)).toBe(t0);
        expect(JSON.stringify(patch)).toBe(p0);
      },
    ),
    { numRuns: fuzzRuns() },
  );
});
