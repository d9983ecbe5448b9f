import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createMetadataClient } from "@asterism/metadata";
import { repoRoot } from "@asterism/testing";
import { rootCommand } from "../commands/index.ts";
import { memoryIo } from "../io.ts";
import { runCli } from "../runner.ts";
import { workspacePaths } from "../workspace/paths.ts";
import { readState, writeState } from "../workspace/state.ts";
import { stopMini } from "./down.ts";
import { type DaemonRecord, isRunning, startDaemon, stopDaemon } from "./processes.ts";
import { startMetadataService } from "./services.ts";
import { miniStatus } from "./status.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-mini-"));
const started: DaemonRecord[] = [];
afterAll(async () => {
  for (const r of started) await stopDaemon(r, 500);
  rmSync(dir, { recursive: true, force: true });
});

const self = [process.execPath, resolve(repoRoot, "apps", "cli", "src", "main.ts")];

describe("metadata endpoint as its own process", () => {
  test("announces its URL, accepts the launcher's token only, stops on SIGTERM", async () => {
    const d = join(dir, "md");
    mkdirSync(d);
    const token = "t".repeat(32);
    const md = await startMetadataService(self, d, token, 20_000);
    started.push(md.record);
    expect(md.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const client = createMetadataClient({ url: md.endpoint });
    await client.putInstance(token, "mini-worker-0", { role: "worker", ips: ["127.0.0.1"] });
    expect((await client.instances()).map((i) => i.name)).toEqual(["mini-worker-0"]);
    await expect(
      client.putInstance("x".repeat(32), "evil", { role: "worker", ips: ["127.0.0.1"] }),
    ).rejects.toThrow();
    expect(await stopDaemon(md.record)).toBe("stopped");
  }, 30_000);
});

describe("mini status / down from the state file", () => {
  test("finds recorded processes, stops them all, removes the node files", async () => {
    const ws = workspacePaths(join(dir, "ws"));
    mkdirSync(ws.miniDir, { recursive: true });
    const sleeper = (name: string) => {
      const r = startDaemon({ name, argv: ["sleep", "60"], env: {}, log: join(ws.miniDir, `${name}.log`) });
      started.push(r);
      return r;
    };
    const svc = sleeper("kms");
    const tpm = sleeper("swtpm");
    const vs = sleeper("verification-service");
    writeState(ws.state, {
      version: "v1",
      infrastructure: { uid: "00", name: "mini" },
      mini: {
        dir: ws.miniDir,
        startedAt: new Date(0).toISOString(),
        nodes: [
          {
            name: "mini-control-plane-0",
            role: "control-plane",
            ips: ["127.0.0.1"],
            dir: join(ws.miniDir, "nodes", "n"),
            tpmPort: 1,
            endpoints: { verify: "http://127.0.0.1:1" },
            processes: [tpm, vs],
          },
        ],
        services: [{ name: "kms", process: svc, endpoint: "127.0.0.1:2" }],
      },
    });
    const st = await miniStatus(ws);
    expect(st.healthy).toBe(true);
    expect(st.nodes[0]?.processes.map((p) => p.running)).toEqual([true, true]);
    const io = memoryIo({}, ws.dir);
    expect(await runCli(rootCommand, ["mini", "status"], io)).toBe(0);
    expect(io.out.join("")).toContain("mini-control-plane-0");

    const down = memoryIo({}, ws.dir);
    expect(await runCli(rootCommand, ["mini", "down", "--json"], down)).toBe(0);
    expect(JSON.parse(down.out.join("")).stopped).toHaveLength(3);
    for (const r of [svc, tpm, vs]) expect(isRunning(r)).toBe(false);
    expect((await miniStatus(ws)).exists).toBe(false);
    // Idempotent.
    expect((await stopMini(ws, { removeFiles: true })).stopped).toEqual([]);
  });
});

describe("mini up refusals", () => {
  test("a workspace holding another cluster's state → exit 2, state untouched", async () => {
    const ws = workspacePaths(join(dir, "real"));
    mkdirSync(ws.dir, { recursive: true });
    const state = {
      version: "v1" as const,
      infrastructure: { uid: "01", name: "prod", clusterEndpoint: "10.0.0.5:9000" },
      clusterValues: { clusterID: "11".repeat(32), measurementSalt: "22".repeat(32) },
    };
    writeState(ws.state, state);
    const io = memoryIo({}, dir);
    expect(await runCli(rootCommand, ["mini", "up", "-C", ws.dir], io)).toBe(2);
    expect(io.err.join("")).toContain("holds the state of another cluster");
    expect(readState(ws.state)).toEqual(state);
  });

  test("missing binaries outside a checkout → exit 3 naming them", async () => {
    const ws = join(dir, "nobins");
    const io = memoryIo({}, dir);
    const code = await runCli(rootCommand, ["mini", "up", "-C", ws, "--bin-dir", join(dir, "empty")], io);
    expect(code).toBe(3);
    expect(io.err.join("")).toContain("BINARY_MISSING");
  });

  const usage: [string, string[], string][] = [
    ["--image without --vm", ["--image", "x.raw"], "--image and --memory apply to VM nodes"],
    ["--memory without --vm", ["--memory", "2048"], "--image and --memory apply to VM nodes"],
    ["--nodes and --control-planes", ["--nodes", "1", "--control-planes", "1"], "not both"],
    ["--memory out of range", ["--vm", "--memory", "64"], "Invalid --memory"],
  ];
  for (const [name, args, text] of usage) {
    test(`${name} → exit 2`, async () => {
      const io = memoryIo({}, dir);
      expect(await runCli(rootCommand, ["mini", "up", "-C", join(dir, "usage"), ...args], io)).toBe(2);
      expect(io.err.join("")).toContain(text);
    });
  }

  test("an unfinished cloud config → exit 1 (line-pointed errors)", async () => {
    const ws = join(dir, "aws");
    expect(await runCli(rootCommand, ["config", "generate", "gcp", "-C", ws], memoryIo())).toBe(0);
    const io = memoryIo({}, dir);
    expect(await runCli(rootCommand, ["mini", "up", "-C", ws], io)).toBe(1);
    expect(io.err.join("")).toMatch(/asterism-conf\.yaml:\d+:\d+: /);
  });
});
