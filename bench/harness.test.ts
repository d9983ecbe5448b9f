import { describe, expect, test } from "bun:test";
import {
  concurrent,
  describeMachine,
  figure,
  interleave,
  latency,
  markdownTable,
  percentile,
} from "./harness.ts";
import { type Results, renderPerformanceDoc } from "./report.ts";

describe("percentile (nearest rank)", () => {
  test.each([
    { name: "empty", xs: [], p: 50, want: Number.NaN },
    { name: "one", xs: [7], p: 99, want: 7 },
    { name: "median of 1..100", xs: Array.from({ length: 100 }, (_, i) => i + 1), p: 50, want: 50 },
    { name: "p99 of 1..100", xs: Array.from({ length: 100 }, (_, i) => i + 1), p: 99, want: 99 },
    { name: "p100", xs: [1, 2, 3], p: 100, want: 3 },
  ])("$name", ({ xs, p, want }) => {
    expect(percentile(xs, p)).toEqual(want);
  });

  test("latency sorts its input", () => {
    const l = latency([5, 1, 3]);
    expect(l).toMatchObject({ n: 3, p50Ms: 3, maxMs: 5, meanMs: 3 });
  });
});

describe("figure", () => {
  test("ratio is value ÷ baseline", () => {
    expect(figure("x", 50, "ops/s", "higher", { name: "raw", value: 100 }).ratio).toBe(0.5);
  });
  test("no baseline, no ratio", () => {
    expect(figure("x", 50, "ms", "lower")).not.toHaveProperty("ratio");
  });
  test("a zero baseline gives no ratio rather than Infinity", () => {
    expect(figure("x", 50, "ms", "lower", { name: "b", value: 0 })).not.toHaveProperty("ratio");
  });
});

test("interleave and concurrent are bounded by their time budget", async () => {
  const t0 = performance.now();
  const r = await interleave(
    { a: () => undefined, b: async () => undefined },
    { seconds: 0.2, rounds: 2, warmup: 1 },
  );
  const c = await concurrent("c", async () => Bun.sleep(1), {
    concurrency: 5,
    seconds: 0.2,
    warmupSeconds: 0.05,
  });
  expect(performance.now() - t0).toBeLessThan(2000);
  expect(r.map((x) => x.name)).toEqual(["a", "b"]);
  expect(r.every((x) => x.n > 0 && x.opsPerSec > 0)).toBe(true);
  expect(c.concurrency).toBe(5);
  expect(c.n).toBeGreaterThan(5);
});

test("markdownTable aligns columns", () => {
  const t = markdownTable(["a", "bb"], [["xxx", "y"]]);
  expect(t.split("\n")).toEqual(["| a   | bb |", "| --- | -- |", "| xxx | y  |"]);
});

test("describeMachine names CPU, cores, memory, kernel and Bun", () => {
  const m = describeMachine();
  expect(m.cores).toBeGreaterThan(0);
  expect(m.memoryGiB).toBeGreaterThan(0);
  expect(m.bun).toBe(Bun.version);
  expect(m.cpuModel.length).toBeGreaterThan(0);
});

test("renderPerformanceDoc shows every figure with its baseline and ratio, and failed benches", () => {
  const results: Results = {
    generatedAt: "2026-01-01T00:00:00Z",
    gitRevision: "abc",
    quick: false,
    machine: describeMachine(),
    benches: [
      {
        name: "tdx",
        title: "Intel TDX quotes",
        command: "bun bench/tdx.ts",
        status: "ok",
        seconds: 3,
        output: "table",
        figures: [figure("verifyQuote", 800, "quotes/s", "higher", { name: "ideal", value: 1000 })],
      },
      {
        name: "kms",
        title: "KMS",
        command: "bun bench/kms.ts",
        status: "timeout",
        seconds: 150,
        output: "",
        figures: [],
        error: "exit 143",
      },
    ],
  };
  const doc = renderPerformanceDoc(results);
  expect(doc).toContain("| tdx   | verifyQuote");
  expect(doc).toContain("0.800×");
  expect(doc).toContain("`kms`: timeout");
  expect(doc).toContain("## How to reproduce");
});
