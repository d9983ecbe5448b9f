import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root (this file is `shared/testing/testdata.ts`). */
export const repoRoot: string = resolve(import.meta.dir, "..", "..");

/**
 * The shared attestation vectors live beside the checkout, in `../shared/testdata` (CI puts them there too).
 * `ASTERISM_TESTDATA` overrides the location.
 */
export const testdataDir: string =
  process.env["ASTERISM_TESTDATA"] ?? resolve(repoRoot, "..", "shared", "testdata");

/** Path of a file under the shared test vectors; throws a clear error when the vectors are missing. */
export function testdataPath(...parts: string[]): string {
  const p = join(testdataDir, ...parts);
  if (!existsSync(p))
    throw new Error(`test vector missing: ${p} (set ASTERISM_TESTDATA to the shared testdata folder)`);
  return p;
}

/** Bytes of a shared test vector. */
export async function readTestdata(...parts: string[]): Promise<Uint8Array> {
  return new Uint8Array(await Bun.file(testdataPath(...parts)).arrayBuffer());
}

/**
 * How many cases each fast-check property runs: a quick default for CI, `FUZZ_RUNS=100000` in the long
 * mode (`bun run fuzz`).
 */
export function fuzzRuns(quick = 300): number {
  const n = Number(process.env["FUZZ_RUNS"]);
  return Number.isInteger(n) && n > 0 ? n : quick;
}
