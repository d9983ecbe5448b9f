/**
 * Preloaded into each `bun test` process that `scripts/fuzz.ts` starts: counts the cases every
 * fast-check property actually ran (a property may cap its runs, or be interrupted by the time limit),
 * and appends them to FUZZ_REPORT_FILE (one JSON line per property). Failures still throw exactly as fast-check's
 * default reporter does (same message, same cause), so a failing property fails its test.
 *
 * FUZZ_PROPERTY_SECONDS (optional): stop any one property after that long; the report says so.
 */
import { appendFileSync } from "node:fs";
import fc from "fast-check";

interface PropertyReport {
  readonly numRuns: number;
  readonly numSkips: number;
  readonly failed: boolean;
  readonly interrupted: boolean;
  readonly seed: number;
  readonly path?: string;
  readonly counterexample?: string;
  readonly error?: string;
  readonly ms: number;
}

const file = process.env["FUZZ_REPORT_FILE"];
let last = performance.now();
const limit = Number(process.env["FUZZ_PROPERTY_SECONDS"]);

fc.configureGlobal({
  ...fc.readConfigureGlobal(),
  ...(Number.isFinite(limit) && limit > 0
    ? { interruptAfterTimeLimit: limit * 1000, markInterruptAsFailure: false }
    : {}),
  reporter(out) {
    const now = performance.now();
    const report: PropertyReport = {
      numRuns: out.numRuns,
      numSkips: out.numSkips,
      failed: out.failed,
      interrupted: out.interrupted,
      seed: out.seed,
      ms: Math.round(now - last),
      ...(out.failed
        ? {
            path: out.counterexamplePath ?? undefined,
            counterexample: fc.stringify(out.counterexample).slice(0, 4000),
            error: String(out.errorInstance).slice(0, 2000),
          }
        : {}),
    };
    // One JSON line per property, written at once: bun test does not emit "exit" to preloads.
    if (file) appendFileSync(file, `${JSON.stringify(report)}\n`);
    last = now;
    if (out.failed) {
      const message = fc.defaultReportMessage(out) ?? "Property failed";
      throw new Error(message, { cause: out.errorInstance });
    }
  },
});
