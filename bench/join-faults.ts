/**
 * The fault campaign as a report (not a speed benchmark): tests/load/join-faults.test.ts with LOAD_FULL=1
 * (120 joins on real swtpm nodes through the real JoinService and KMS processes, one of JoinService, KMS,
 * swtpm or node killed at a random point of each join; some runs are attacks on another node's disk).
 * The test asserts the invariants; this prints what happened per fault and emits it for docs/performance.md.
 *
 *   bun bench/join-faults.ts [--runs=120]
 */
import { resolve } from "node:path";
import { arg, emit, figure, machineLine, printTable } from "./harness.ts";

const root = resolve(import.meta.dir, "..");
const seed = arg("seed", String(Date.now() % 1_000_000), "FAULT_SEED");
const run = Bun.spawnSync(["bun", "test", "--timeout", "1800000", "./tests/load/join-faults.test.ts"], {
  cwd: root,
  env: { ...process.env, LOAD_FULL: "1", FAULT_SEED: seed },
  stdout: "pipe",
  stderr: "pipe",
});
const out = `${run.stdout.toString()}\n${run.stderr.toString()}`;
const line = out.split("\n").find((l) => l.startsWith('{"faults":"join"'));
if (run.exitCode !== 0 || !line) {
  console.error(out.slice(-4000));
  throw new Error(`fault campaign failed (exit ${run.exitCode}); replay with FAULT_SEED=${seed}`);
}
const r = JSON.parse(line) as {
  runs: number;
  seed: number;
  seconds: number;
  keysHandedOut: number;
  summary: Record<string, number>;
};
printTable(
  `Fault campaign: ${r.runs} joins, seed ${r.seed}, ${r.seconds} s (${machineLine()})`,
  ["killed", "operation", "outcome", "runs"],
  Object.entries(r.summary)
    .sort()
    .map(([k, n]) => [...(k.split("/") as [string, string, string]), String(n)]),
);
console.log(
  "\nInvariants held in every run: honest joins ended joined; steals were refused; every key handed out " +
    "was the right key for its disk and went to the disk's recorded owner; the state passed integrity_check.",
);
emit(
  "join-faults",
  [
    figure("fault-campaign joins (invariants held in all)", r.runs, "runs", "higher"),
    figure("disk keys handed out, all to the disk's owner", r.keysHandedOut, "keys", "higher"),
  ],
  { faults: r },
);
