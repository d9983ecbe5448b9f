/**
 * The CLI end to end, through the COMPILED binaries in dist/ (scripts/test.sh builds them first; missing
 * ones are built here): config generate → mini up → verify → tamper a node's boot component and reboot it
 * → verify fails naming the PCR → mini down → nothing left running. Plus line-pointed config errors and
 * `--help` on every command of the compiled CLI.
 *
 * Everything runs on 127.0.0.1 with free ports; every process mini up starts is recorded in the state
 * file, and afterAll runs `mini down` (and checks the recorded PIDs) even when a step failed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@asterism/testing";
import { parse as parseYaml } from "yaml";

const dist = join(repoRoot, "dist");
const cli = join(dist, "asterism");
const BINARIES = ["asterism", "bootstrapper", "join-service", "verification-service", "kms"];
const ws = mkdtempSync(join(tmpdir(), "asterism-e2e-"));

interface Run {
  code: number;
  out: string;
  err: string;
}

async function asterism(...argv: string[]): Promise<Run> {
  const p = Bun.spawn([cli, ...argv, "-C", ws], {
    cwd: ws,
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", NO_COLOR: "1" },
  });
  const [code, out, err] = await Promise.all([
    p.exited,
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
  ]);
  return { code, out, err };
}

/** PIDs and start times of every process recorded in the state file. */
function recordedProcesses(): { name: string; pid: number; startTime: string }[] {
  const path = join(ws, "asterism-state.yaml");
  if (!existsSync(path)) return [];
  const s = parseYaml(readFileSync(path, "utf8")) as {
    mini?: {
      services: { process: { name: string; pid: number; startTime: string } }[];
      nodes: { processes: { name: string; pid: number; startTime: string }[] }[];
    };
  };
  return [
    ...(s.mini?.services.map((x) => x.process) ?? []),
    ...(s.mini?.nodes.flatMap((n) => n.processes) ?? []),
  ];
}

function alive(p: { pid: number; startTime: string }): boolean {
  try {
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[0] !== "Z" && rest[19] === p.startTime;
  } catch {
    return false;
  }
}

let everRecorded: { name: string; pid: number; startTime: string }[] = [];

beforeAll(() => {
  const missing = BINARIES.filter((b) => !existsSync(join(dist, b)));
  if (missing.length) {
    const apps = missing.map((b) => (b === "asterism" ? "cli" : b));
    const p = Bun.spawnSync(["bun", join(repoRoot, "scripts", "build.ts"), ...apps], { cwd: repoRoot });
    expect(p.exitCode).toBe(0);
  }
}, 60_000);

afterAll(async () => {
  everRecorded = [...everRecorded, ...recordedProcesses()];
  if (recordedProcesses().length) await asterism("mini", "down");
  // Last line of defence: nothing this test started may outlive it.
  for (const p of everRecorded) {
    if (alive(p)) {
      try {
        process.kill(-p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  rmSync(ws, { recursive: true, force: true });
}, 30_000);

describe("compiled asterism", () => {
  test("every command answers --help with examples", async () => {
    const top = await asterism("--help");
    expect(top.code).toBe(0);
    const groups = ["config", "mini", "measurements", "attestation"];
    const leaves: string[][] = [["init"], ["apply"], ["verify"], ["recover"], ["version"]];
    for (const g of groups) {
      const h = await asterism(g, "--help");
      expect(h.code).toBe(0);
      const names = h.out
        .split("Commands:")[1]
        ?.split("\n\n")[0]
        ?.split("\n")
        .map((l) => l.trim().split(/\s+/)[0])
        .filter((n): n is string => Boolean(n));
      for (const n of names ?? []) leaves.push([g, n]);
    }
    expect(leaves.length).toBeGreaterThan(15);
    // A few at a time: each is a process start of a 100 MB executable.
    for (let i = 0; i < leaves.length; i += 4) {
      const batch = leaves.slice(i, i + 4);
      const runs = await Promise.all(batch.map((l) => asterism(...l, "--help")));
      runs.forEach((r, j) => {
        const l = batch[j];
        expect({ l, code: r.code, examples: r.out.includes("Examples:") }).toEqual({
          l,
          code: 0,
          examples: true,
        });
      });
    }
  }, 60_000);

  test("a bad configuration gives file:line:column errors and exit 1", async () => {
    const bad = join(ws, "bad.yaml");
    expect((await asterism("config", "generate", "qemu", "--config", bad)).code).toBe(0);
    const text = readFileSync(bad, "utf8")
      .replace(/(4: # kernel.*\n\s+expected: ")([0-9a-f]{63})[0-9a-f]"/, '$1$2"')
      .replace("diskPbkdf: pbkdf2", "diskPbkdf: pbkdf2\n    stateDisk: 1");
    writeFileSync(bad, text);
    const lineOf = (needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;
    const r = await asterism("config", "validate", "--config", bad);
    expect(r.code).toBe(1);
    expect(r.err).toContain(
      `bad.yaml:${lineOf("stateDisk: 1")}:5: provider.qemu.stateDisk: unknown field "stateDisk"`,
    );
    expect(r.err).toContain(
      `bad.yaml:${lineOf("4: # kernel") + 1}:17: attestation.measurements.4.expected: expected 64 hex characters, got 63`,
    );
    rmSync(bad);
  });
});

describe("local cluster end to end (compiled binaries)", () => {
  let worker = "";

  test("config generate → mini up: every node verified in well under a minute", async () => {
    expect((await asterism("config", "generate", "qemu")).code).toBe(0);
    const t0 = performance.now();
    const up = await asterism("mini", "up", "--nodes", "1", "--workers", "1", "--json");
    everRecorded = recordedProcesses();
    expect({ code: up.code, err: up.err.split("\n").slice(-8).join("\n") }).toEqual({
      code: 0,
      err: expect.any(String),
    });
    expect(performance.now() - t0).toBeLessThan(60_000);
    const r = JSON.parse(up.out) as {
      clusterId: string;
      nodes: { name: string; role: string; verified: boolean }[];
    };
    expect(r.clusterId).toMatch(/^[0-9a-f]{64}$/);
    expect(r.nodes.map((n) => [n.role, n.verified])).toEqual([
      ["control-plane", true],
      ["worker", true],
    ]);
    worker = r.nodes[1]?.name ?? "";
    const status = await asterism("mini", "status", "--json");
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out).healthy).toBe(true);
    expect(statSync(join(ws, "asterism-mastersecret.json")).mode & 0o777).toBe(0o600);
  }, 90_000);

  test("verify: every node valid", async () => {
    const v = await asterism("verify", "--json");
    expect(v.code).toBe(0);
    const out = JSON.parse(v.out) as {
      valid: boolean;
      nodes: { valid: boolean; eventLogVerified: boolean; via: string }[];
    };
    expect(out.valid).toBe(true);
    expect(out.nodes.map((n) => n.valid)).toEqual([true, true]);
    // Two nodes: asked through the real VerificationService's batch endpoint, inclusion proofs checked.
    expect(out.nodes.map((n) => n.via)).toEqual(["batch", "batch"]);
    // Each document carries the simulated firmware's event log (plus the identity event) and it replays.
    expect(out.nodes.map((n) => n.eventLogVerified)).toEqual([true, true]);
  }, 30_000);

  test("tamper the worker's kernel, reboot it: verify fails naming PCR 4", async () => {
    appendFileSync(join(ws, "asterism-mini", "nodes", worker, "boot", "kernel"), "rootkit");
    const reboot = await asterism("mini", "reboot", worker);
    everRecorded = [...everRecorded, ...recordedProcesses()];
    expect({ code: reboot.code, err: reboot.err }).toEqual({ code: 0, err: expect.any(String) });
    const v = await asterism("verify");
    expect(v.code).toBe(1);
    expect(v.out).toContain("PCR 4 (kernel (boot application))");
    const j = JSON.parse((await asterism("verify", "--json")).out) as {
      nodes: { name: string; valid: boolean; mismatches: { index: number }[] }[];
    };
    const bad = j.nodes.find((n) => n.name === worker);
    expect(bad?.valid).toBe(false);
    expect(bad?.mismatches.map((m) => m.index)).toContain(4);
    expect(j.nodes.find((n) => n.name !== worker)?.valid).toBe(true);
  }, 60_000);

  test("full control-plane outage (JoinService gone, control plane rebooted): recover over aTLS", async () => {
    const js = recordedProcesses().find((p) => p.name === "join-service");
    expect(js && alive(js)).toBe(true);
    process.kill((js as { pid: number }).pid, "SIGTERM");
    for (let i = 0; i < 100 && js && alive(js); i++) await Bun.sleep(20);
    const cp = "mini-control-plane-0";
    expect((await asterism("mini", "reboot", cp)).code).toBe(0);
    everRecorded = [...everRecorded, ...recordedProcesses()];
    const r = await asterism("recover", "--json");
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: expect.any(String) });
    const rec = JSON.parse(r.out) as { recovered: { clusterId: string; matchesState: boolean }[] };
    expect(rec.recovered.map((x) => x.matchesState)).toEqual([true]);
    const v = JSON.parse((await asterism("verify", "--json")).out) as {
      nodes: { name: string; valid: boolean }[];
    };
    expect(v.nodes.find((n) => n.name === cp)?.valid).toBe(true);
  }, 60_000);

  test("mini down: nothing left running", async () => {
    const before = recordedProcesses();
    expect(before.length).toBeGreaterThan(4);
    const down = await asterism("mini", "down");
    expect(down.code).toBe(0);
    for (const p of [...before, ...everRecorded])
      expect({ p: p.name, alive: alive(p) }).toEqual({ p: p.name, alive: false });
    expect(existsSync(join(ws, "asterism-state.yaml"))).toBe(false);
    expect(existsSync(join(ws, "asterism-mastersecret.json"))).toBe(true);
  }, 30_000);
});
