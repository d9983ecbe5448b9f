import { expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { KubeError, RESOURCES, validateObject } from "./index.ts";

const kinds = fc.constantFrom(
  ...RESOURCES.map((r) => ({
    apiVersion: r.group === "" ? r.version : `${r.group}/${r.version}`,
    kind: r.kind,
  })),
);

test("validateObject: random objects of every kind are accepted or rejected with KubeError only", () => {
  fc.assert(
    fc.property(kinds, fc.jsonValue({ maxDepth: 5 }), fc.jsonValue({ maxDepth: 5 }), (k, spec, rest) => {
      const candidates: unknown[] = [
        { ...k, metadata: { name: "x" }, spec, data: rest },
        { ...k, metadata: spec },
        spec,
      ];
      for (const c of candidates) {
        try {
          validateObject(c);
        } catch (err) {
          expect(err).toBeInstanceOf(KubeError);
          expect(["INVALID_OBJECT", "UNKNOWN_KIND"]).toContain((err as KubeError).code);
        }
      }
    }),
    { numRuns: fuzzRuns() },
  );
});
