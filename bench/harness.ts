/**
 * Shared benchmark harness: measurement loops (interleaved rounds, sequential latency, N concurrent
 * callers), percentiles, table printing, a description of the machine, and the one JSON line each bench
 * prints last. `bench/run` collects those lines into `bench/results.json` and `docs/performance.md`.
 *
 * Every figure a bench reports is a {@link Figure}: the value, its unit, whether higher is better, and
 * the baseline measured IN THE SAME RUN (raw WebCrypto/OpenSSL, tpm2-tools, plain TLS, a hello-world
 * binary) with the ratio ours ÷ baseline. Ratios, not absolute numbers, are what carry from one machine
 * to another; the machine description says which one produced the absolute numbers.
 *
 * Not a test helper and not shipped: benches import it relatively (`./harness.ts`).
 */

import { readFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";

/** What produced the numbers. */
export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly kernel: string;
  readonly os: string;
  readonly arch: string;
  readonly bun: string;
  readonly bunRevision: string;
  /** 1-minute load average when the description was taken: the machine is shared, this says how much. */
  readonly loadAverage1m: number;
}

function firstLine(path: string, pattern: RegExp): string | undefined {
  try {
    const m = pattern.exec(readFileSync(path, "utf8"));
    return m?.[1]?.trim();
  } catch {
    return undefined;
  }
}

/** Describe this machine (CPU model, cores, memory, kernel, Bun version, current load). */
export function describeMachine(): Machine {
  const cpu = cpus();
  const os = firstLine("/etc/os-release", /^PRETTY_NAME="?([^"\n]*)"?$/m) ?? process.platform;
  const kernel = firstLine("/proc/version", /^Linux version (\S+)/) ?? "unknown";
  const load = Number(firstLine("/proc/loadavg", /^(\S+)/) ?? Number.NaN);
  return {
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    freeMemoryGiB: Number((freemem() / 2 ** 30).toFixed(1)),
    kernel,
    os,
    arch: process.arch,
    bun: Bun.version,
    bunRevision: Bun.revision.slice(0, 12),
    loadAverage1m: load,
  };
}

/** One line of prose for a table caption. */
export function machineLine(m: Machine = describeMachine()): string {
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}, Bun ${m.bun} (load ${m.loadAverage1m})`;
}

/** Latency statistics of one case, in milliseconds. */
export interface Latency {
  readonly n: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** Latency statistics of raw samples (ms). */
export function latency(samples: readonly number[]): Latency {
  const s = Float64Array.from(samples).sort();
  let sum = 0;
  for (const x of s) sum += x;
  return {
    n: s.length,
    p50Ms: percentile(s, 50),
    p99Ms: percentile(s, 99),
    maxMs: s.length === 0 ? Number.NaN : (s[s.length - 1] as number),
    meanMs: s.length === 0 ? Number.NaN : sum / s.length,
  };
}

/** A measured case: operations per second and per-operation latency. */
export interface Measured extends Latency {
  readonly name: string;
  readonly opsPerSec: number;
}

export interface InterleaveOptions {
  /** Total measuring time over all cases and rounds. */
  readonly seconds: number;
  /** Rounds: every case runs once per round, so slow drifts in machine load hit all cases alike. */
  readonly rounds?: number;
  /** Warm-up calls per case before measuring (JIT, caches). */
  readonly warmup?: number;
  /** Hard cap on calls per case and round (bounds a broken fast path). */
  readonly maxPerSlice?: number;
}

/**
 * Run named cases in interleaved rounds (case A, B, C, then A, B, C again, …) for `seconds` in total,
 * timing every call. Rate = calls ÷ time spent in that case. Sequential awaits: this measures one
 * caller's cost, not concurrency.
 */
export async function interleave(
  cases: Readonly<Record<string, () => Promise<unknown> | unknown>>,
  options: InterleaveOptions,
): Promise<Measured[]> {
  const rounds = options.rounds ?? 8;
  const warmup = options.warmup ?? 100;
  const maxPerSlice = options.maxPerSlice ?? 1_000_000;
  const names = Object.keys(cases);
  for (const f of Object.values(cases)) for (let i = 0; i < warmup; i++) await f();
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  const spent = new Map<string, number>(names.map((n) => [n, 0]));
  const slice = (options.seconds * 1000) / rounds / Math.max(1, names.length);
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const f = cases[name] as () => Promise<unknown> | unknown;
      const out = samples.get(name) as number[];
      const t0 = performance.now();
      for (let i = 0; i < maxPerSlice && performance.now() - t0 < slice; i++) {
        const t = performance.now();
        await f();
        out.push(performance.now() - t);
      }
      spent.set(name, (spent.get(name) ?? 0) + (performance.now() - t0));
    }
  }
  return names.map((name) => {
    const s = samples.get(name) as number[];
    return { name, opsPerSec: (s.length * 1000) / (spent.get(name) ?? 1), ...latency(s) };
  });
}

/** Time `op` sequentially for `seconds` (at most `maxIterations` calls) after `warmup` calls. */
export async function sequential(
  name: string,
  op: () => Promise<unknown> | unknown,
  options: { seconds: number; warmup?: number; maxIterations?: number },
): Promise<Measured> {
  for (let i = 0; i < (options.warmup ?? 5); i++) await op();
  const max = options.maxIterations ?? 1_000_000;
  const lat: number[] = [];
  const start = performance.now();
  const end = start + options.seconds * 1000;
  while (performance.now() < end && lat.length < max) {
    const t = performance.now();
    await op();
    lat.push(performance.now() - t);
  }
  return { name, opsPerSec: (lat.length * 1000) / (performance.now() - start), ...latency(lat) };
}

/**
 * `concurrency` callers each call `op` in a loop for `seconds` (after `warmupSeconds` of the same);
 * every call's latency is recorded. `op` gets the caller index and the call index.
 */
export async function concurrent(
  name: string,
  op: (caller: number, call: number) => Promise<unknown>,
  options: { concurrency: number; seconds: number; warmupSeconds?: number; maxCallsPerCaller?: number },
): Promise<Measured & { readonly concurrency: number }> {
  const max = options.maxCallsPerCaller ?? 1_000_000;
  const warmEnd = performance.now() + (options.warmupSeconds ?? 0.5) * 1000;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, c) => {
      for (let i = 0; i < max && performance.now() < warmEnd; i++) await op(c, -1 - i);
    }),
  );
  const lat: number[] = [];
  const start = performance.now();
  const end = start + options.seconds * 1000;
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, c) => {
      for (let i = 0; i < max && performance.now() < end; i++) {
        const t = performance.now();
        await op(c, i);
        lat.push(performance.now() - t);
      }
    }),
  );
  return {
    name,
    concurrency: options.concurrency,
    opsPerSec: (lat.length * 1000) / (performance.now() - start),
    ...latency(lat),
  };
}

/**
 * One reported number beside its same-run baseline. `ratio` = value ÷ baseline value; with
 * `better: "higher"` (throughput) a ratio near 1 means "as fast as the baseline", with `better: "lower"`
 * (latency, memory) a ratio of 3 means "three times the baseline's cost".
 */
export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly better: "higher" | "lower";
  readonly baseline?: { readonly name: string; readonly value: number };
  readonly ratio?: number;
  readonly note?: string;
}

/** Build a figure, computing the ratio when a baseline is given. */
export function figure(
  name: string,
  value: number,
  unit: string,
  better: "higher" | "lower",
  baseline?: { name: string; value: number },
  note?: string,
): Figure {
  const ratio = baseline && baseline.value !== 0 ? value / baseline.value : undefined;
  return {
    name,
    value: round(value),
    unit,
    better,
    ...(baseline ? { baseline: { name: baseline.name, value: round(baseline.value) } } : {}),
    ...(ratio !== undefined ? { ratio: Number(ratio.toFixed(3)) } : {}),
    ...(note ? { note } : {}),
  };
}

/** Three significant decimals for small numbers, integers for large ones. */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x);
  if (a >= 10) return Number(x.toFixed(1));
  if (a >= 1) return Number(x.toFixed(2));
  return Number(x.toPrecision(3));
}

/** Format a number for a table cell. */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "—";
  return round(x).toLocaleString("en-US", { maximumFractionDigits: 3 });
}

/** Print an aligned Markdown table (readable in a terminal, pasteable into docs). */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  console.log(markdownTable(header, rows, title));
}

/** An aligned Markdown table as text, with an optional caption line above it. */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  title?: string,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    `| ${widths.map((w, i) => (cells[i] ?? "").padEnd(w)).join(" | ")} |`;
  const out = [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
  return `${title ? `\n${title}\n\n` : ""}${out.join("\n")}`;
}

/** The figures as a table: value, baseline, ratio. */
export function printFigures(title: string, figures: readonly Figure[]): void {
  printTable(
    title,
    ["measure", "value", "unit", "same-run baseline", "baseline value", "ratio"],
    figures.map((f) => [
      f.name,
      fmt(f.value),
      f.unit,
      f.baseline?.name ?? "—",
      fmt(f.baseline?.value),
      f.ratio === undefined ? "—" : `${f.ratio.toFixed(3)}×`,
    ]),
  );
}

/**
 * Print the bench's one JSON line (last line of its output): its name, the machine, its figures and
 * any bench-specific detail. `bench/run` reads exactly this line.
 */
export function emit(bench: string, figures: readonly Figure[], detail: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench, machine: describeMachine(), figures, ...detail }));
}

/** Parse `--name=value` arguments (falling back to an environment variable, then a default). */
export function arg(name: string, fallback: string, env?: string): string {
  const flag = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (flag) return flag.slice(name.length + 3);
  const e = env ? process.env[env] : undefined;
  return e !== undefined && e !== "" ? e : fallback;
}
