/**
 * `mini reboot` and `mini status` of VM nodes without a VM: `sleep` processes stand in for QEMU and
 * swtpm, the reset is injected (it appends a new boot report as the guest would), and so are the
 * bootstrapper status and the verify.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMeasurements } from "@asterism/measurements";
import { GUEST_PORTS } from "@asterism/node-vm";
import type { NodeVerdict, VerifyNodeOptions } from "../cluster/verify-client.ts";
import { generateConfig } from "../config/generate.ts";
import { parseConfig } from "../config/load.ts";
import { memoryIo } from "../io.ts";
import { createProgress } from "../ui/progress.ts";
import { workspacePaths } from "../workspace/paths.ts";
import { type MiniNode, readState, type State, writeState } from "../workspace/state.ts";
import { MiniError } from "./errors.ts";
import { type DaemonRecord, startDaemon, stopDaemon } from "./processes.ts";
import { miniStatus } from "./status.ts";
import { rebootVmNode, type VmRebootOptions } from "./vm-reboot.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-vm-reboot-"));
const sleepers: DaemonRecord[] = [];
afterAll(async () => {
  for (const r of sleepers) await stopDaemon(r, 500);
  rmSync(dir, { recursive: true, force: true });
});

const config = parseConfig(
  generateConfig({
    provider: "qemu",
    variant: "qemu-vtpm",
    name: "vmt",
    measurements: createMeasurements([[4, { expected: "44".repeat(32) }]]),
  }),
);

function vmNode(ws: string, name: string, base: number, endpoints: Record<string, string>): MiniNode {
  const vmDir = join(ws, "asterism-mini", "nodes", name);
  mkdirSync(vmDir, { recursive: true });
  const proc = (p: string) => {
    const r = startDaemon({ name: p, argv: ["sleep", "300"], env: {}, log: join(vmDir, `${p}.log`) });
    sleepers.push(r);
    return r;
  };
  appendFileSync(join(vmDir, "boot-report.log"), "ASTERISM-PCRS-BEGIN\npcr 4 00\nASTERISM-PCRS-END\n");
  return {
    name: `vmt-${name}`,
    role: name.startsWith("worker") ? "worker" : "control-plane",
    ips: ["10.0.2.15"],
    dir: vmDir,
    endpoints: { verify: `http://127.0.0.1:${base + 5}`, ...endpoints },
    processes: [proc("qemu"), proc("swtpm")],
    vm: {
      dir: vmDir,
      serialLog: join(vmDir, "serial.log"),
      ports: Object.fromEntries(Object.values(GUEST_PORTS).map((g, k) => [String(g), base + k])),
    },
  };
}

function cluster(name: string) {
  const ws = workspacePaths(join(dir, name));
  const cp0 = vmNode(ws.dir, "control-plane-0", 41000, {
    init: "https://127.0.0.1:41000",
    join: "https://10.0.2.100:9090",
  });
  const worker = vmNode(ws.dir, "worker-0", 41100, { recovery: "https://127.0.0.1:41101" });
  const state: State = {
    version: "v1",
    infrastructure: { uid: "00", name: "vmt" },
    clusterValues: { clusterID: "07".repeat(32), measurementSalt: "11".repeat(32) },
    mini: {
      dir: ws.miniDir,
      startedAt: new Date(0).toISOString(),
      image: "/images/asterism-node.raw",
      nodes: [cp0, worker],
      services: [],
    },
  };
  writeState(ws.state, state);
  return { ws, state, cp0, worker };
}

/** A reset the way the guest shows it: a new boot report after a moment. */
const reset = (calls: string[]) => async (vmDir: string) => {
  calls.push(vmDir);
  setTimeout(
    () =>
      appendFileSync(join(vmDir, "boot-report.log"), "ASTERISM-PCRS-BEGIN\npcr 4 00\nASTERISM-PCRS-END\n"),
    300,
  );
};

const verified = (asked: VerifyNodeOptions[]) => async (o: VerifyNodeOptions) => {
  asked.push(o);
  return {
    url: o.url,
    valid: true,
    variant: "qemu-vtpm",
    measurements: {},
    eventLogVerified: true,
    warnings: [],
    via: "single" as const,
  } satisfies NodeVerdict;
};

const base = (c: ReturnType<typeof cluster>, node: MiniNode): VmRebootOptions => ({
  ws: c.ws,
  config,
  state: c.state,
  node,
  progress: createProgress(memoryIo()),
  timeouts: { bootMs: 3000, joinMs: 3000 },
});

describe("rebootVmNode", () => {
  test("a worker: reset, new boot, verified again with PCR 15 = cluster ID; stale endpoints dropped", async () => {
    const c = cluster("worker");
    const resets: string[] = [];
    const asked: VerifyNodeOptions[] = [];
    const r = await rebootVmNode({
      ...base(c, c.worker),
      deps: { reset: reset(resets), verifyNode: verified(asked) },
    });
    expect(r).toEqual({ verifyUrl: "http://127.0.0.1:41105", rejoined: true });
    expect(resets).toEqual([c.worker.dir]);
    expect(asked[0]?.url).toBe("http://127.0.0.1:41105");
    // PCR 15 of the verify policy is bound to the cluster ID (not zero).
    expect(asked[0]?.policy.measurements.get(15)?.expected).not.toBe("00".repeat(32));
    const after = readState(c.ws.state)?.mini?.nodes.find((n) => n.name === "vmt-worker-0");
    expect(after?.endpoints).toEqual({ verify: "http://127.0.0.1:41105" });
  });

  test("control-plane-0 (the JoinService): waits for the rejoin phase and records its recovery endpoint", async () => {
    const c = cluster("cp0");
    const r = await rebootVmNode({
      ...base(c, c.cp0),
      deps: {
        reset: reset([]),
        fetch: async (url: string) =>
          url === "http://127.0.0.1:41002/v1/status"
            ? Response.json({ phase: "rejoining" })
            : new Response("", { status: 404 }),
      },
    });
    expect(r).toEqual({
      verifyUrl: "http://127.0.0.1:41005",
      rejoined: false,
      recoveryUrl: "https://127.0.0.1:41001",
    });
    const after = readState(c.ws.state)?.mini?.nodes.find((n) => n.name === "vmt-control-plane-0");
    expect(after?.endpoints).toEqual({
      verify: "http://127.0.0.1:41005",
      join: "https://10.0.2.100:9090",
      recovery: "https://127.0.0.1:41001",
    });
  });

  test("no new boot: TIMEOUT naming the serial log", async () => {
    const c = cluster("noboot");
    const err = await rebootVmNode({ ...base(c, c.worker), deps: { reset: async () => undefined } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MiniError);
    expect((err as MiniError).code).toBe("TIMEOUT");
    expect((err as MiniError).message).toContain("serial.log");
  });

  test("a stopped VM: NOT_RUNNING, nothing reset", async () => {
    const c = cluster("stopped");
    for (const p of c.worker.processes) await stopDaemon(p, 500);
    const resets: string[] = [];
    const err = await rebootVmNode({ ...base(c, c.worker), deps: { reset: reset(resets) } }).catch(
      (e: unknown) => e,
    );
    expect((err as MiniError).code).toBe("NOT_RUNNING");
    expect(resets).toEqual([]);
  });

  test("--no-wait returns right after the reset", async () => {
    const c = cluster("nowait");
    const r = await rebootVmNode({
      ...base(c, c.worker),
      noWait: true,
      deps: { reset: async () => undefined },
    });
    expect(r).toEqual({ verifyUrl: "http://127.0.0.1:41105", rejoined: false });
  });
});

describe("miniStatus of VM nodes", () => {
  test("phase over the forwarded ports: the bootstrapper's, else done once the VerificationService answers", async () => {
    const c = cluster("status");
    const st = await miniStatus(c.ws, async (url: string) => {
      if (url === "http://127.0.0.1:41002/v1/status") return Response.json({ phase: "waiting" });
      if (url === "http://127.0.0.1:41105/healthz") return Response.json({ status: "ok" });
      return new Response("", { status: 503 });
    });
    expect(st.image).toBe("/images/asterism-node.raw");
    expect(st.healthy).toBe(true);
    expect(st.nodes.map((n) => [n.name, n.phase, n.processes.map((p) => `${p.name}:${p.running}`)])).toEqual([
      ["vmt-control-plane-0", "waiting", ["qemu:true", "swtpm:true"]],
      ["vmt-worker-0", "done", ["qemu:true", "swtpm:true"]],
    ]);
    expect(st.nodes[1]?.serialLog).toEndWith("worker-0/serial.log");
    for (const p of c.worker.processes) await stopDaemon(p, 500);
    const down = await miniStatus(c.ws, async () => new Response("", { status: 503 }));
    expect(down.healthy).toBe(false);
    expect(down.nodes[1]?.phase).toBeUndefined();
  });
});
