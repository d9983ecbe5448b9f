#!/usr/bin/env bun
/**
 * Run every benchmark with a bounded duration, collect the JSON line each prints last, and write
 * `bench/results.json` (machine, git revision, every bench's raw JSON and its figures) and
 * `docs/performance.md` (every figure beside its same-run baseline as a ratio, the machine, how to
 * reproduce). Benches run one after another, never in parallel: they would measure each other.
 *
 *   bench/run                      # everything, default durations (≈ 15 min, the fault campaign included)
 *   bench/run --quick              # shorter phases (≈ 4 min), for a smoke check of the pipeline
 *   bench/run --only=tpm,kms       # a subset; results of the others are kept from the previous run
 *   bench/run --no-write           # print only
 *   bench/run --render             # re-render docs/performance.md from bench/results.json (no run)
 *
 * Each bench gets a hard wall-clock limit; on expiry its whole process group (swtpm children
 * included) is terminated and the bench is recorded as failed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describeMachine, type Figure } from "./harness.ts";
import { type BenchResult, type Results, renderPerformanceDoc } from "./report.ts";
import { BENCHES, type BenchSpec } from "./specs.ts";

const root = resolve(import.meta.dir, "..");
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const write = !args.includes("--no-write");
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",")
  .filter((s) => s !== "");
for (const name of only ?? [])
  if (!BENCHES.some((b) => b.name === name)) {
    process.stderr.write(`unknown bench ${name}; known: ${BENCHES.map((b) => b.name).join(", ")}\n`);
    process.exit(2);
  }

const GRACE_MS = 5_000;

async function runOne(spec: BenchSpec): Promise<BenchResult> {
  const cmd = quick ? spec.quick : spec.command;
  const command = [...Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${v}`), ...cmd.argv].join(" ");
  const base = { name: spec.name, title: spec.title, command, seconds: 0, figures: [], output: "" };
  const missing = spec.requires.find((p) => !existsSync(join(root, p)));
  if (missing !== undefined)
    return { ...base, status: "skipped", error: `${missing} is not in this checkout` };

  process.stderr.write(`▶ ${spec.name}: ${command}\n`);
  const t0 = performance.now();
  const child = Bun.spawn([...cmd.argv], {
    cwd: root,
    env: { ...process.env, ...cmd.env },
    stdout: "pipe",
    stderr: "pipe",
    detached: true, // own process group: a timeout takes its swtpm/service children with it
  });
  let timedOut = false;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup("SIGTERM");
    setTimeout(() => killGroup("SIGKILL"), GRACE_MS).unref();
  }, spec.timeoutSeconds * 1000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  killGroup("SIGKILL"); // stray grandchildren of a bench that forgot to stop them
  const seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
  const lines = stdout.trimEnd().split("\n");
  let json: Record<string, unknown> | undefined;
  let at = lines.length;
  for (let i = lines.length - 1; i >= 0 && json === undefined; i--) {
    const line = lines[i]?.trim() ?? "";
    if (!line.startsWith("{")) continue;
    try {
      const parsed = JSON.parse(line) as unknown;
      if (typeof parsed === "object" && parsed !== null && "bench" in parsed) {
        json = parsed as Record<string, unknown>;
        at = i;
      }
    } catch {
      // not the JSON line
    }
  }
  const output = lines.slice(0, at).join("\n").trim();
  process.stderr.write(`  ${spec.name}: exit ${code}, ${seconds} s${timedOut ? " (TIMEOUT)" : ""}\n`);
  if (timedOut || code !== 0 || json === undefined) {
    return {
      ...base,
      seconds,
      output,
      status: timedOut ? "timeout" : "failed",
      error: `exit ${code}${timedOut ? ` after the ${spec.timeoutSeconds} s limit` : ""}; stderr tail: ${stderr.trim().split("\n").slice(-8).join(" | ")}`,
      ...(json ? { json } : {}),
    };
  }
  const figures = Array.isArray(json["figures"]) ? (json["figures"] as Figure[]) : (spec.adapt?.(json) ?? []);
  return { ...base, seconds, output, status: "ok", figures, json };
}

const previous: Results | undefined = (() => {
  const p = join(import.meta.dir, "results.json");
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, "utf8")) as Results;
  } catch {
    return undefined;
  }
})();

// --render: recompute adapted figures from the stored JSON lines and rewrite the document, no run.
if (args.includes("--render")) {
  if (!previous) throw new Error("bench/results.json is missing: run the benches first");
  const benches = previous.benches.map((b) => {
    const spec = BENCHES.find((s) => s.name === b.name);
    if (!b.json || Array.isArray(b.json["figures"]) || !spec?.adapt) return b;
    return { ...b, figures: spec.adapt(b.json) };
  });
  const redone: Results = { ...previous, benches };
  writeFileSync(join(import.meta.dir, "results.json"), `${JSON.stringify(redone, null, 2)}\n`);
  writeFileSync(join(root, "docs", "performance.md"), renderPerformanceDoc(redone));
  Bun.spawnSync(["bunx", "biome", "format", "--write", "docs/performance.md"], { cwd: root });
  process.stdout.write("re-rendered bench/results.json figures and docs/performance.md\n");
  process.exit(0);
}

const machine = describeMachine();
const results: BenchResult[] = [];
for (const spec of BENCHES) {
  if (only && !only.includes(spec.name)) {
    const kept = previous?.benches.find((b) => b.name === spec.name);
    if (kept) results.push(kept);
    continue;
  }
  results.push(await runOne(spec));
}

const rev = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root }).stdout.toString().trim();
const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { cwd: root })
  .stdout.toString()
  .trim();
const all: Results = {
  generatedAt: new Date().toISOString(),
  gitRevision: `${rev}${dirty ? "+dirty" : ""}`,
  quick,
  machine,
  benches: results,
};

for (const b of results) {
  process.stdout.write(`\n## ${b.name} (${b.status}, ${b.seconds} s)\n`);
  for (const f of b.figures)
    process.stdout.write(
      `  ${f.name}: ${f.value} ${f.unit}${f.baseline ? ` vs ${f.baseline.name} ${f.baseline.value} → ${f.ratio}×` : ""}\n`,
    );
  if (b.error) process.stdout.write(`  ${b.error}\n`);
}

if (write) {
  writeFileSync(join(import.meta.dir, "results.json"), `${JSON.stringify(all, null, 2)}\n`);
  mkdirSync(join(root, "docs"), { recursive: true });
  writeFileSync(join(root, "docs", "performance.md"), renderPerformanceDoc(all));
  // The repository's formatter owns Markdown layout too (aligned tables); keep `biome check` green.
  Bun.spawnSync(["bunx", "biome", "format", "--write", "docs/performance.md"], { cwd: root });
  process.stdout.write("\nwrote bench/results.json and docs/performance.md\n");
}
process.exit(results.some((b) => b.status === "failed" || b.status === "timeout") ? 1 : 0);
