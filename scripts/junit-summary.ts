#!/usr/bin/env bun
/**
 * Print the closing line CI reads, `N passed, N failed`, from bun test's JUnit report. Extra failed
 * checks (lint, typecheck, build) are added to the failed count so the line never looks green when the
 * run was not.
 *
 * Usage: bun scripts/junit-summary.ts junit.xml [extraFailures]
 */
export {};

const [file, extra = "0"] = process.argv.slice(2);
let tests = 0;
let failures = 0;
let skipped = 0;
if (file && (await Bun.file(file).exists())) {
  const xml = await Bun.file(file).text();
  // Count <testcase> elements directly: robust to how suites nest and to attribute order.
  const cases = xml.match(/<testcase\b[^>]*?(\/>|>[\s\S]*?<\/testcase>)/g) ?? [];
  tests = cases.length;
  for (const c of cases) {
    if (/<(failure|error)\b/.test(c)) failures++;
    else if (/<skipped\b/.test(c)) skipped++;
  }
}
const failed = failures + Number(extra);
const passed = tests - failures - skipped;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed === 0 && tests > 0 ? 0 : 1);
