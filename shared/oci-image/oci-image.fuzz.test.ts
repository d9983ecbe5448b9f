import { expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { createTar, OciError, type TarEntry } from "./index.ts";

const segment = fc.oneof(fc.constantFrom(".", "..", "", "a", "b", "ü"), fc.string({ maxLength: 120 }));
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/"));
const entry: fc.Arbitrary<TarEntry> = fc.oneof(
  fc.record({ type: fc.constant("dir" as const), path, mode: fc.integer({ min: -1, max: 0o20000 }) }),
  fc.record({
    type: fc.constant("file" as const),
    path,
    mode: fc.integer({ min: 0, max: 0o7777 }),
    content: fc.uint8Array({ maxLength: 700 }),
  }),
  fc.record({ type: fc.constant("symlink" as const), path, target: fc.string({ maxLength: 120 }) }),
);

test("createTar: any entries give a whole-block archive independent of order, or an OciError", () => {
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 6 }), (entries) => {
      let tar: Uint8Array;
      try {
        tar = createTar(entries);
      } catch (err) {
        expect(err).toBeInstanceOf(OciError);
        expect(["INVALID_ENTRY", "PATH_TOO_LONG"]).toContain((err as OciError).code);
        return;
      }
      expect(tar.length % 512).toBe(0);
      expect(createTar([...entries].reverse())).toEqual(tar);
    }),
    { numRuns: fuzzRuns(100) },
  );
});
