import { beforeAll, describe, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { ComponentError } from "./errors.ts";
import { parseTar } from "./tar.ts";

let valid: Uint8Array;
beforeAll(async () => {
  valid = new Uint8Array(
    await Bun.$`d=$(mktemp -d) && printf abc > $d/a && mkdir $d/b && printf xyz > $d/b/c && tar -C $d -cf - . && rm -rf $d`.arrayBuffer(),
  );
});

const onlyTyped = (e: unknown) => {
  if (!(e instanceof ComponentError)) throw e;
};

describe("tar parser (fuzz)", () => {
  test("random bytes only ever raise ComponentError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => {
        try {
          parseTar(b);
        } catch (e) {
          onlyTyped(e);
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("mutated GNU tar output only ever raises ComponentError, and accepted paths never escape", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (ops) => {
          const b = valid.slice();
          for (const [pos, val] of ops) b[pos % b.length] = val;
          try {
            for (const e of parseTar(b)) {
              if (e.path.startsWith("/") || e.path.split("/").includes(".."))
                throw new Error(`escaping path ${e.path}`);
            }
          } catch (e) {
            onlyTyped(e);
          }
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
