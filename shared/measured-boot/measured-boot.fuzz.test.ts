import { describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { authenticodeSha256 } from "./authenticode.ts";
import { ukiFromDiskImage } from "./disk.ts";
import { MeasuredBootError } from "./errors.ts";
import { buildTestPe } from "./test-pe.ts";
import { measureUki } from "./uki.ts";

const te = new TextEncoder();
const seed = buildTestPe([
  { name: ".linux", data: buildTestPe([{ name: ".text", data: new Uint8Array(32) }]).bytes },
  { name: ".cmdline", data: te.encode("console=ttyS0") },
  { name: ".initrd", data: new Uint8Array(40) },
]).bytes;

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MeasuredBootError);
  }
}

describe("measured-boot fuzz", () => {
  test("mutated UKIs only ever throw MeasuredBootError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        (edits) => {
          const b = seed.slice();
          for (const [at, v] of edits) b[at] = v;
          onlyTyped(() => measureUki(b));
          onlyTyped(() => authenticodeSha256(b));
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("random disk images only ever throw MeasuredBootError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096 }), (b) => {
        const d = new Uint8Array(4096);
        d.set(b);
        d.set(te.encode("EFI PART"), 512);
        onlyTyped(() => ukiFromDiskImage(d));
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
