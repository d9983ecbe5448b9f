import { describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { COMPONENT_HASH_PATTERN, parseComponentList } from "./components.ts";
import { ComponentError } from "./errors.ts";

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const component = fc.record(
  {
    url: fc.oneof(fc.webUrl(), fc.string(), fc.constant("data:,x"), fc.constant("file:///etc/passwd")),
    hash: fc.oneof(
      hex64.map((h) => `sha256:${h}`),
      fc.string(),
      fc.constant(""),
      fc.constant(null),
    ),
    installPath: fc.oneof(
      fc.string(),
      fc.constant("/usr/bin/x"),
      fc.stringMatching(/^(\/[a-z.]{1,5}){1,4}$/),
    ),
    extract: fc.oneof(fc.boolean(), fc.anything()),
  },
  { requiredKeys: [] },
);

describe("component list parser (fuzz)", () => {
  test("arbitrary JSON values only ever raise ComponentError", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseComponentList(v);
        } catch (e) {
          if (!(e instanceof ComponentError)) throw e;
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("near-valid lists: accepted components always carry a well-formed pin", () => {
    fc.assert(
      fc.property(fc.array(component, { maxLength: 5 }), (list) => {
        try {
          for (const c of parseComponentList(list)) {
            expect(c.hash).toMatch(COMPONENT_HASH_PATTERN);
            expect(c.installPath.startsWith("/")).toBe(true);
            expect(c.installPath.split("/")).not.toContain("..");
          }
        } catch (e) {
          if (!(e instanceof ComponentError)) throw e;
          const missing = list.some((c) => c.hash === undefined || c.hash === null || c.hash === "");
          if (e.code === "COMPONENT_HASH_MISSING") expect(missing).toBe(true);
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
