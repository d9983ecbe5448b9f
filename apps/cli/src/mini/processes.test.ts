import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSwtpm, readPcrs, TPM_ALG } from "@asterism/tpm";
import { defaultBootComponentBytes } from "../boot/components.ts";
import { runSimulatedFirmware } from "../boot/firmware.ts";
import { precomputeBootPcrs } from "../boot/precompute.ts";
import { type DaemonRecord, isRunning, processStartTime, startDaemon, stopDaemon } from "./processes.ts";
import { startSwtpmDaemon } from "./swtpm.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-daemons-"));
const started: DaemonRecord[] = [];
afterAll(async () => {
  for (const r of started) await stopDaemon(r, 500);
  rmSync(dir, { recursive: true, force: true });
});

describe("daemons", () => {
  test("start in their own session, log to a file, stop by recorded identity", async () => {
    const r = startDaemon({
      name: "sh",
      argv: ["sh", "-c", 'echo "started $SECRET_FREE"; exec sleep 30'],
      env: { SECRET_FREE: "env-ok" },
      log: join(dir, "sh.log"),
    });
    started.push(r);
    expect(isRunning(r)).toBe(true);
    // Its own session: the session id (field 6 of /proc/<pid>/stat) is its PID.
    const stat = readFileSync(`/proc/${r.pid}/stat`, "utf8");
    expect(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]).toBe(String(r.pid));
    for (let i = 0; i < 100 && !readFileSync(join(dir, "sh.log"), "utf8").includes("env-ok"); i++)
      await Bun.sleep(10);
    expect(readFileSync(join(dir, "sh.log"), "utf8")).toContain("started env-ok");
    // A record whose start time differs (the PID was reused) is never signalled.
    expect(await stopDaemon({ ...r, startTime: "1" })).toBe("not-running");
    expect(isRunning(r)).toBe(true);
    expect(await stopDaemon(r)).toBe("stopped");
    expect(isRunning(r)).toBe(false);
    expect(await stopDaemon(r)).toBe("not-running");
  });

  test("a process that ignores SIGTERM is killed after the grace period", async () => {
    const r = startDaemon({
      name: "stubborn",
      argv: ["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"],
      env: {},
      log: join(dir, "stubborn.log"),
    });
    started.push(r);
    await Bun.sleep(100);
    expect(await stopDaemon(r, 200)).toBe("killed");
    expect(isRunning(r)).toBe(false);
  });

  test("a missing program is START_FAILED", () => {
    expect(() =>
      startDaemon({
        name: "nope",
        argv: ["/nonexistent/asterism-nope"],
        env: {},
        log: join(dir, "nope.log"),
      }),
    ).toThrow();
    expect(processStartTime(0x7ffffffe)).toBeUndefined();
  });
});

describe("swtpm daemon + simulated firmware", () => {
  test("boots to the precomputed PCRs and stops", async () => {
    const sw = await startSwtpmDaemon(join(dir, "node-0"));
    started.push(sw.record);
    const tpm = await openSwtpm({ host: "127.0.0.1", port: sw.port, ctrlPort: sw.ctrlPort });
    const components = defaultBootComponentBytes("qemu-vtpm");
    try {
      await runSimulatedFirmware(tpm, components);
      const pcrs = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [4] }])).get(TPM_ALG.SHA256);
      expect(pcrs?.get(4)).toEqual(precomputeBootPcrs(components).get(4));
    } finally {
      await tpm.close();
    }
    expect(await stopDaemon(sw.record)).toBe("stopped");
  });
});
