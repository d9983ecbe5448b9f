#!/usr/bin/env bun
/**
 * Run every test file docs/security.md cites and require every cited test to pass (a title match in bun
 * test's JUnit report; `$name`-style table titles match their rendered cases). Exit 1 naming what is
 * missing or failing. `tests/security-doc.test.ts` does the cheap half (the citations exist) in CI.
 *
 *   bun scripts/security-tests.ts
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** One cited test. */
export interface Citation {
  readonly file: string;
  readonly name: string;
}

/** Every `` `path.test.ts` › "name" `` in the document, in order, without duplicates. */
export function securityCitations(doc: string): Citation[] {
  const out = new Map<string, Citation>();
  for (const m of doc.matchAll(/`([^`\s]+\.test\.ts)`\s*›\s*"((?:[^"\\]|\\.)+)"/g)) {
    const c = { file: m[1] as string, name: (m[2] as string).replace(/\\"/g, '"') };
    out.set(`${c.file}\0${c.name}`, c);
  }
  return [...out.values()];
}

/** Does a JUnit test name satisfy a cited name (exactly, as a part of a table title, or as a template)? */
export function matches(cited: string, actual: string): boolean {
  if (actual.includes(cited)) return true;
  if (!cited.includes("$")) return false;
  const pattern = cited
    .split(/\$[A-Za-z_][A-Za-z0-9_]*/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(pattern).test(actual);
}

if (import.meta.main) {
  const root = resolve(import.meta.dir, "..");
  const citations = securityCitations(readFileSync(join(root, "docs", "security.md"), "utf8"));
  const files = [...new Set(citations.map((c) => c.file))];
  const report = join(root, ".tmp", "security-junit.xml");
  const run = Bun.spawnSync(
    [
      "bun",
      "test",
      "--timeout",
      "120000",
      "--reporter=junit",
      `--reporter-outfile=${report}`,
      ...files.map((f) => `./${f}`),
    ],
    { cwd: root, stdout: "inherit", stderr: "inherit" },
  );
  const xml = readFileSync(report, "utf8");
  const cases = [...xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => {
    const attrs = m[1] ?? "";
    const name = (/\bname="([^"]*)"/.exec(attrs)?.[1] ?? "")
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&");
    const file = /\bfile="([^"]*)"/.exec(attrs)?.[1] ?? "";
    return { name, file, ok: !/<(failure|error|skipped)\b/.test(m[3] ?? "") };
  });
  const problems: string[] = [];
  for (const c of citations) {
    const hits = cases.filter((t) => (t.file === "" || t.file.endsWith(c.file)) && matches(c.name, t.name));
    if (hits.length === 0) problems.push(`not run: ${c.file} › ${c.name}`);
    else if (!hits.some((h) => h.ok)) problems.push(`failing: ${c.file} › ${c.name}`);
  }
  console.log(`${citations.length} cited tests in ${files.length} files; ${problems.length} problems`);
  for (const p of problems) console.log(`  ${p}`);
  process.exit(problems.length === 0 && run.exitCode === 0 ? 0 : 1);
}
