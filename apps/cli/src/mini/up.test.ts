/**
 * `mini up` failing half-way stops everything it started: here the "bootstrapper" is a script that
 * exits at once, so the cluster never gets an init endpoint.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { repoRoot } from "@asterism/testing";
import {
  DEFAULT_BOOT_COMPONENTS,
  defaultBootComponentBytes,
  writeDefaultBootComponents,
} from "../boot/components.ts";
import { precomputeBootMeasurements } from "../boot/precompute.ts";
import { generateConfig } from "../config/generate.ts";
import { parseConfig } from "../config/load.ts";
import { memoryIo } from "../io.ts";
import { createProgress } from "../ui/progress.ts";
import { workspacePaths } from "../workspace/paths.ts";
import { readState } from "../workspace/state.ts";
import { MiniError } from "./errors.ts";
import { isRunning } from "./processes.ts";
import { miniUp } from "./up.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-up-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("mini up failure", () => {
  test("a bootstrapper that dies: START_FAILED naming its log; swtpms and metadata stopped", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    for (const b of ["bootstrapper", "join-service", "verification-service", "kms"]) {
      writeFileSync(join(bin, b), `#!/bin/sh\necho "${b}: refusing to start (test)" >&2\nexit 1\n`);
      chmodSync(join(bin, b), 0o755);
    }
    const ws = workspacePaths(join(dir, "ws"));
    mkdirSync(ws.dir);
    writeDefaultBootComponents(ws.dir, DEFAULT_BOOT_COMPONENTS, "qemu-vtpm");
    const config = parseConfig(
      generateConfig({
        provider: "qemu",
        variant: "qemu-vtpm",
        name: "t",
        measurements: precomputeBootMeasurements(defaultBootComponentBytes("qemu-vtpm")),
      }),
    );
    const io = memoryIo();
    const err = await miniUp({
      ws,
      config,
      configPath: ws.config,
      configDir: ws.dir,
      controlPlanes: 1,
      workers: 1,
      binDir: bin,
      self: [process.execPath, resolve(repoRoot, "apps", "cli", "src", "main.ts")],
      progress: createProgress(io),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MiniError);
    expect((err as MiniError).code).toBe("START_FAILED");
    expect((err as MiniError).message).toContain("bootstrapper: refusing to start (test)");
    const state = readState(ws.state);
    const recorded = [
      ...(state?.mini?.services.map((s) => s.process) ?? []),
      ...(state?.mini?.nodes.flatMap((n) => n.processes) ?? []),
    ];
    // A stub that exits at once may already be gone when its start is recorded (startDaemon then fails
    // with START_FAILED itself and there is nothing to record): how many bootstrappers made it into the
    // state depends on scheduling. Everything else must be there, and nothing may still run.
    const names = recorded.map((p) => p.name);
    expect(names.filter((n) => n !== "bootstrapper").sort()).toEqual(["metadata", "swtpm", "swtpm"]);
    expect(names.filter((n) => n === "bootstrapper").length).toBeLessThanOrEqual(2);
    expect(recorded.filter(isRunning)).toEqual([]);
    expect(io.err.join("")).toContain("stopping what was started");
  }, 30_000);
});
