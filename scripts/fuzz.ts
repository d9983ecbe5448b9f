#!/usr/bin/env bun
/**
 * The long fuzz mode (`bun run fuzz`): every `*.fuzz.test.ts` in the repository, one `bun test` process
 * per file (one module at a time, so a hang or crash is pinned to its file), FUZZ_RUNS cases per property
 * (default 100 000), each file bounded in wall time. Counts the cases each property really ran (through
 * scripts/fuzz-preload.ts), merges the outcome into docs/fuzz-results.json and, with --doc, rewrites the
 * generated table in docs/fuzzing.md. CI runs the same files in the quick mode as part of `bun test`.
 *
 *   bun run fuzz                                  # all files, 100 000 runs per property
 *   bun scripts/fuzz.ts --runs=2000 --only=tpm    # files whose path contains "tpm"
 *   bun scripts/fuzz.ts --file-seconds=900 --doc  # per-file limit; update docs/fuzzing.md
 *   bun scripts/fuzz.ts --list                    # just list the files
 *   bun scripts/fuzz.ts --render                  # only rewrite docs/fuzzing.md from the results file
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const opt = (name: string, fallback: string) =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const runs = Number(opt("runs", "100000"));
const fileSeconds = Number(opt("file-seconds", "3600"));
const propertySeconds = opt("property-seconds", "");
const only = opt("only", "")
  .split(",")
  .filter((s) => s !== "");
const RESULTS = join(root, "docs", "fuzz-results.json");
const commit =
  process.env["FUZZ_COMMIT"] ??
  (Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root }).stdout.toString().trim() ||
    "unknown");
const DOC = join(root, "docs", "fuzzing.md");

/** Every fuzz file in the repository (the same set `bun test` runs in the quick mode). */
export function fuzzFiles(): string[] {
  const glob = new Bun.Glob("**/*.fuzz.test.ts");
  return [...glob.scanSync({ cwd: root, onlyFiles: true })]
    .filter((f) => !f.split("/").some((p) => p === "node_modules" || p === "dist" || p.startsWith(".")))
    .sort();
}

interface PropertyReport {
  readonly numRuns: number;
  readonly failed: boolean;
  readonly interrupted: boolean;
  readonly seed: number;
  readonly ms: number;
  readonly path?: string;
  readonly counterexample?: string;
  readonly error?: string;
}

interface FileResult {
  readonly file: string;
  readonly status: "pass" | "fail" | "timeout";
  readonly requestedRuns: number;
  readonly seconds: number;
  readonly tests: { readonly pass: number; readonly fail: number };
  readonly properties: number;
  readonly cases: number;
  readonly minCasesPerProperty: number;
  readonly interruptedProperties: number;
  readonly failures: readonly PropertyReport[];
  readonly finishedAt: string;
  /** The commit the file was fuzzed at (FUZZ_COMMIT, else `git rev-parse`). */
  readonly commit: string;
  readonly output?: string;
}

async function runFile(file: string, tmp: string): Promise<FileResult> {
  const report = join(tmp, `${file.replaceAll("/", "_")}.json`);
  rmSync(report, { force: true });
  const t0 = performance.now();
  const child = Bun.spawn(
    [
      "bun",
      "test",
      "--timeout",
      String(fileSeconds * 1000),
      "--preload",
      "./scripts/fuzz-preload.ts",
      `./${file}`,
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        FUZZ_RUNS: String(runs),
        FUZZ_REPORT_FILE: report,
        ...(propertySeconds ? { FUZZ_PROPERTY_SECONDS: propertySeconds } : {}),
      },
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    },
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }, fileSeconds * 1000);
  const [out, err] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const code = await child.exited;
  clearTimeout(timer);
  const seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  const text = `${out}\n${err}`;
  const count = (what: string) => Number(new RegExp(`^\\s*(\\d+) ${what}$`, "m").exec(text)?.[1] ?? 0);
  const props: PropertyReport[] = existsSync(report)
    ? readFileSync(report, "utf8")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as PropertyReport)
    : [];
  const failures = props.filter((p) => p.failed);
  const status = timedOut ? "timeout" : code === 0 && failures.length === 0 ? "pass" : "fail";
  return {
    file,
    status,
    requestedRuns: runs,
    seconds,
    tests: { pass: count("pass"), fail: count("fail") },
    properties: props.length,
    cases: props.reduce((a, p) => a + p.numRuns, 0),
    minCasesPerProperty: props.length === 0 ? 0 : Math.min(...props.map((p) => p.numRuns)),
    interruptedProperties: props.filter((p) => p.interrupted).length,
    failures,
    finishedAt: new Date().toISOString(),
    commit,
    ...(status === "pass" ? {} : { output: text.split("\n").slice(-60).join("\n") }),
  };
}

function loadResults(): Record<string, FileResult> {
  if (!existsSync(RESULTS)) return {};
  try {
    return JSON.parse(readFileSync(RESULTS, "utf8")) as Record<string, FileResult>;
  } catch {
    return {};
  }
}

/** The generated part of docs/fuzzing.md: one row per fuzz file. */
export function summaryTable(results: Record<string, FileResult>, files: readonly string[]): string {
  const rows = files.map((f) => {
    const r = results[f];
    if (!r) return `| \`${f}\` | not run in the long mode yet | | | | | |`;
    const cases = r.cases.toLocaleString("en-US");
    const min = r.minCasesPerProperty.toLocaleString("en-US");
    const note = [
      r.interruptedProperties > 0 ? `${r.interruptedProperties} interrupted by the time limit` : "",
      r.failures.length > 0 ? `${r.failures.length} failing properties` : "",
    ]
      .filter((s) => s !== "")
      .join("; ");
    return `| \`${f}\` | ${r.status}${note ? ` (${note})` : ""} | ${r.tests.pass + r.tests.fail} / ${r.properties} | ${cases} | ${min} | ${r.seconds} | ${r.commit ?? "—"} |`;
  });
  const total = files.reduce((a, f) => a + (results[f]?.cases ?? 0), 0);
  const secs = files.reduce((a, f) => a + (results[f]?.seconds ?? 0), 0);
  return [
    "| file | result | tests / properties | cases run | fewest cases in one property | seconds | commit |",
    "|---|---|---|---|---|---|---|",
    ...rows,
    `| **total** | | | **${total.toLocaleString("en-US")}** | | **${Math.round(secs)}** | |`,
  ].join("\n");
}

function writeDoc(results: Record<string, FileResult>, files: readonly string[]): void {
  const START = "<!-- fuzz-summary:start -->";
  const END = "<!-- fuzz-summary:end -->";
  const doc = existsSync(DOC) ? readFileSync(DOC, "utf8") : `# Fuzzing\n\n${START}\n${END}\n`;
  const a = doc.indexOf(START);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC} lacks the ${START} … ${END} markers`);
  const body = `${START}\n<!-- generated by scripts/fuzz.ts --doc from docs/fuzz-results.json -->\n\n${summaryTable(results, files)}\n\n${END}`;
  writeFileSync(DOC, doc.slice(0, a) + body + doc.slice(b + END.length));
  Bun.spawnSync(["bunx", "biome", "format", "--write", DOC], { cwd: root }); // aligned tables, as biome wants
}

if (import.meta.main) {
  const files = fuzzFiles();
  const selected = only.length === 0 ? files : files.filter((f) => only.some((o) => f.includes(o)));
  if (args.includes("--list")) {
    for (const f of selected) console.log(f);
    process.exit(0);
  }
  if (args.includes("--render")) {
    // Only rewrite docs/fuzzing.md from docs/fuzz-results.json (e.g. after runs in other checkouts).
    writeDoc(loadResults(), files);
    process.exit(0);
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer");
  const tmp = join(root, ".tmp", "fuzz");
  mkdirSync(tmp, { recursive: true });
  let failed = 0;
  for (const file of selected) {
    process.stderr.write(`▶ ${file} (${runs} runs per property, ≤ ${fileSeconds} s)\n`);
    const r = await runFile(file, tmp);
    // Re-read before writing: other invocations (one module at a time, in the background) share the file.
    const results = loadResults();
    results[file] = r;
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    process.stderr.write(
      `  ${r.status}: ${r.tests.pass} pass ${r.tests.fail} fail, ${r.properties} properties, ${r.cases} cases, ${r.seconds} s\n`,
    );
    if (r.status !== "pass") {
      failed++;
      process.stderr.write(`${r.output ?? ""}\n`);
    }
  }
  const results = loadResults();
  console.log(summaryTable(results, selected));
  if (args.includes("--doc")) writeDoc(results, files);
  process.exit(failed === 0 ? 0 : 1);
}
