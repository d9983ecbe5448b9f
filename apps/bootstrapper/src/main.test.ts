// The composition root's first decision, with the real process: PCR 15 already set in this boot. A node
// whose activation completed (node-state.json in the run directory) exits 0 "already bootstrapped"; one
// whose init or join failed after the node lock (no node-state.json) must not pass for bootstrapped when
// systemd restarts it: exit 3 (the image's unit does not restart on it), status failed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootLocalNode, localImage, openNodeTpm } from "@asterism/lifecycle";
import { repoRoot, type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { pcrEvent } from "@asterism/tpm";

let sw: SwtpmInstance;
const dirs: string[] = [];

beforeAll(async () => {
  sw = await startSwtpm();
  await bootLocalNode(sw, localImage("bootstrapper-main-test"));
  const tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
  try {
    await pcrEvent(tpm, 15, new Uint8Array(32).fill(9)); // as the node lock does at activation
  } finally {
    await tpm.close();
  }
});
afterAll(async () => {
  await sw?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function runBootstrapper(runDir: string): Promise<{ code: number; log: string }> {
  const p = Bun.spawn(["bun", join(repoRoot, "apps", "bootstrapper", "src", "main.ts")], {
    cwd: repoRoot,
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      HOME: process.env["HOME"] ?? "/tmp",
      ASTERISM_TPM: `swtpm:${sw.host}:${sw.port}`,
      // Never reached: the decision comes before metadata and disk.
      ASTERISM_METADATA_URL: "http://127.0.0.1:9",
      ASTERISM_STATE_DISK: join(runDir, "state.img"),
      ASTERISM_RUN_DIR: runDir,
    },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  const [log, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  return { code, log };
}

const runDir = () => {
  const d = mkdtempSync(join(tmpdir(), "asterism-bootstrapper-main-"));
  dirs.push(d);
  return d;
};

describe("restart with PCR 15 set", () => {
  test("activation completed in this boot: exit 0, already bootstrapped", async () => {
    const d = runDir();
    writeFileSync(join(d, "node-state.json"), "{}\n");
    const r = await runBootstrapper(d);
    expect(r.code).toBe(0);
    expect(r.log).toContain("bootstrapper.already_bootstrapped");
    expect(JSON.parse(readFileSync(join(d, "status.json"), "utf8")).phase).toBe("already-bootstrapped");
  }, 20_000);

  test("activation failed in this boot: exit 3, status failed (ACTIVATION_INCOMPLETE)", async () => {
    const d = runDir();
    const r = await runBootstrapper(d);
    expect(r.code).toBe(3);
    expect(r.log).toContain("bootstrapper.activation_incomplete");
    expect(JSON.parse(readFileSync(join(d, "status.json"), "utf8"))).toEqual({
      phase: "failed",
      error: "ACTIVATION_INCOMPLETE",
    });
  }, 20_000);
});
