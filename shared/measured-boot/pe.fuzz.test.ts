import { expect, test } from "bun:test";
import { applyMutations, fuzzRuns, onlyTyped } from "@asterism/testing";
import fc from "fast-check";
import { MeasuredBootError } from "./errors.ts";
import { parsePe } from "./pe.ts";
import { buildTestPe } from "./test-pe.ts";

/**
 * The PE/COFF parser reads kernels and UKIs from downloaded images (the measurements the admin then
 * trusts): mutated and random files only raise MeasuredBootError, and what parses stays inside the file.
 */
const seed = buildTestPe([
  { name: ".text", data: new Uint8Array(64).fill(0x90) },
  { name: ".cmdline", data: new TextEncoder().encode("console=ttyS0") },
  { name: ".initrd", data: new Uint8Array(48) },
]).bytes;

test("parsePe: mutated and random PE files only throw MeasuredBootError; sections stay in bounds", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc
          .array(
            fc.record({
              at: fc.nat(),
              op: fc.constantFrom("xor" as const, "set" as const, "insert" as const, "delete" as const),
              byte: fc.integer({ min: 0, max: 255 }),
            }),
            { minLength: 1, maxLength: 6 },
          )
          .map((e) => applyMutations(seed, e)),
        fc.uint8Array({ maxLength: 1024 }),
        fc.uint8Array({ minLength: 0x40, maxLength: 600 }).map((b) => {
          b[0] = 0x4d; // "MZ" so the parser gets past the first check
          b[1] = 0x5a;
          return b;
        }),
      ),
      (file) => {
        let pe: ReturnType<typeof parsePe> | undefined;
        onlyTyped([MeasuredBootError], () => {
          pe = parsePe(file);
        });
        for (const s of (
          pe as { sections?: { pointerToRawData?: number; sizeOfRawData?: number }[] } | undefined
        )?.sections ?? []) {
          if (s.pointerToRawData !== undefined && s.sizeOfRawData !== undefined && s.sizeOfRawData > 0)
            expect(s.pointerToRawData + s.sizeOfRawData).toBeLessThanOrEqual(file.length);
        }
      },
    ),
    { numRuns: fuzzRuns() },
  );
});
