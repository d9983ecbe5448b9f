/**
 * `mini up --vm` without booting anything: the VMs are `sleep` processes standing in for QEMU and swtpm
 * (so the state file's records, `mini down` and the failure cleanup act on real processes), the node's
 * bootstrapper status, the init and the verify are injected; the metadata endpoint is the real one.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { InitClusterResult } from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { createMetadataClient } from "@asterism/metadata";
import {
  GUEST_PORTS,
  type LocalCluster,
  type LocalClusterNode,
  type LocalClusterOptions,
  planLocalCluster,
} from "@asterism/node-vm";
import { repoRoot } from "@asterism/testing";
import { IMAGE_PCR_MEANINGS } from "../boot/events.ts";
import { ClusterError } from "../cluster/errors.ts";
import type { InitFirstNodeOptions } from "../cluster/init.ts";
import type { NodeVerdict, VerifyNodeOptions } from "../cluster/verify-client.ts";
import { generateConfig } from "../config/generate.ts";
import { parseConfig } from "../config/load.ts";
import { memoryIo } from "../io.ts";
import { createProgress } from "../ui/progress.ts";
import { workspacePaths } from "../workspace/paths.ts";
import { readState } from "../workspace/state.ts";
import { stopMini } from "./down.ts";
import { MiniError } from "./errors.ts";
import { type DaemonRecord, isRunning, startDaemon, stopDaemon } from "./processes.ts";
import { checkConfigMatchesImage, defaultImagePath, ensureImage } from "./vm-image.ts";
import { type MiniUpVmOptions, miniUpVm, VM_TIMEOUTS } from "./vm-up.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-vm-up-"));
const sleepers: DaemonRecord[] = [];
afterAll(async () => {
  for (const r of sleepers) await stopDaemon(r, 500);
  rmSync(dir, { recursive: true, force: true });
});

const self = [process.execPath, resolve(repoRoot, "apps", "cli", "src", "main.ts")];
const hex = (b: string) => b.repeat(64);
const IMAGE = createMeasurements([
  [4, { expected: hex("4") }],
  [5, { expected: hex("5") }],
  [8, { expected: hex("0") }],
  [9, { expected: hex("9") }],
  [11, { expected: hex("b") }],
  [12, { expected: hex("0") }],
  [13, { expected: hex("0") }],
  [15, { expected: hex("0") }],
]);
const config = parseConfig(
  generateConfig({ provider: "qemu", variant: "qemu-vtpm", name: "vmt", measurements: IMAGE }),
);
const CLUSTER_ID = new Uint8Array(32).fill(7);

function sleeper(name: string, logDir: string): DaemonRecord {
  const r = startDaemon({ name, argv: ["sleep", "300"], env: {}, log: join(logDir, `${name}.log`) });
  sleepers.push(r);
  return r;
}

/** A "cluster" of sleep processes; `failAfter` nodes start, then the start fails. */
function fakeCluster(seen: LocalClusterOptions[], failAfter?: number) {
  return async (opts: LocalClusterOptions): Promise<LocalCluster> => {
    seen.push(opts);
    const nodes: LocalClusterNode[] = [];
    for (const [i, p] of planLocalCluster(opts, new Map()).entries()) {
      if (failAfter !== undefined && i >= failAfter)
        throw new MiniError("START_FAILED", `Cannot start ${p.vm.name} (test)`);
      mkdirSync(p.vm.dir, { recursive: true });
      const node: LocalClusterNode = {
        name: p.vm.name,
        dir: p.vm.dir,
        serialLog: join(p.vm.dir, "serial.log"),
        reportLog: join(p.vm.dir, "boot-report.log"),
        qemuPid: sleeper("qemu", p.vm.dir).pid,
        swtpmPid: sleeper("swtpm", p.vm.dir).pid,
        ports: new Map(Object.values(GUEST_PORTS).map((g, k) => [g, 40000 + i * 100 + k])),
        tpmCa: undefined,
        role: p.role,
        nodeName: p.nodeName,
        ip: p.ip,
      };
      opts.onNodeStarted?.(node);
      nodes.push(node);
    }
    return { nodes, controlPlaneAddress: "10.0.2.100" };
  };
}

const statusFetch =
  (phase: string) =>
  async (url: string): Promise<Response> =>
    url.endsWith("/v1/status") ? Response.json({ phase }) : new Response("no", { status: 404 });

const okInit = (calls: InitFirstNodeOptions[]) => async (o: InitFirstNodeOptions) => {
  calls.push(o);
  return {
    clusterId: CLUSTER_ID,
    kubeconfig: "apiVersion: v1\nkind: Config\n",
    kubernetes: { performed: false, note: "test" },
    attestation: undefined,
  } satisfies InitClusterResult;
};

const okVerify = (asked: string[]) => async (o: VerifyNodeOptions) => {
  asked.push(o.url);
  return {
    url: o.url,
    valid: true,
    variant: "qemu-vtpm",
    measurements: { 15: "x" },
    eventLogVerified: true,
    warnings: [],
    via: "single" as const,
  } satisfies NodeVerdict;
};

function options(name: string, extra: Partial<MiniUpVmOptions> = {}) {
  const ws = workspacePaths(join(dir, name));
  mkdirSync(ws.dir, { recursive: true });
  const io = memoryIo();
  const o: MiniUpVmOptions = {
    ws,
    config,
    configPath: ws.config,
    self,
    progress: createProgress(io),
    image: "/images/asterism-node.raw",
    imageMeasurements: IMAGE,
    controlPlanes: 1,
    workers: 1,
    memoryMiB: 1024,
    timeouts: { bootMs: 3000, joinMs: 3000, serviceStartMs: 20_000 },
    ...extra,
  };
  return { o, ws, io };
}

function recordedProcesses(stateFile: string) {
  const st = readState(stateFile);
  return [
    ...(st?.mini?.services.map((s) => s.process) ?? []),
    ...(st?.mini?.nodes.flatMap((n) => n.processes) ?? []),
  ];
}

describe("checkConfigMatchesImage", () => {
  test("the image's own measurements pass", () => {
    checkConfigMatchesImage(config, IMAGE, "img");
  });
  const cases: [string, [number, { expected: string; warnOnly?: boolean }][]][] = [
    ["another PCR 4", [[4, { expected: hex("f") }]]],
    ["PCR 9 warn-only in the config", [[9, { expected: hex("9"), warnOnly: true }]]],
    ["an extra PCR 0 in the config", [[0, { expected: hex("1") }]]],
  ];
  for (const [name, change] of cases) {
    test(`${name}: CONFIG_UNSUPPORTED naming the PCR`, () => {
      const changed = new Map(IMAGE);
      for (const [i, m] of createMeasurements(change)) changed.set(i, m);
      const cfg = parseConfig(
        generateConfig({ provider: "qemu", variant: "qemu-vtpm", name: "x", measurements: changed }),
      );
      let caught: unknown;
      try {
        checkConfigMatchesImage(cfg, IMAGE, "img");
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(MiniError);
      expect((caught as MiniError).code).toBe("CONFIG_UNSUPPORTED");
      expect((caught as MiniError).message).toContain(`PCR ${change[0]?.[0]}:`);
    });
  }
  test("a configuration written for the image (as `mini up --vm` writes one) matches it", () => {
    const text = generateConfig({
      provider: "qemu",
      variant: "qemu-vtpm",
      name: "x",
      measurements: new Map([...IMAGE].filter(([i]) => i !== 15)),
      measurementsFrom: { note: "From the node image.", meanings: IMAGE_PCR_MEANINGS },
    });
    expect(text).toContain("UKI sections (systemd-stub)");
    expect(text).toContain("From the node image.");
    checkConfigMatchesImage(parseConfig(text), IMAGE, "img");
  });
  test("PCR 15 is not compared (the cluster ID's, set by the policy)", () => {
    const changed = new Map(IMAGE);
    changed.delete(15);
    checkConfigMatchesImage(
      parseConfig(
        generateConfig({ provider: "qemu", variant: "qemu-vtpm", name: "x", measurements: changed }),
      ),
      IMAGE,
      "img",
    );
  });
});

describe("miniUpVm orchestration (no VM)", () => {
  test("registers, records, inits with the image policy, publishes the join endpoint, verifies", async () => {
    const { o, ws } = options("ok");
    const seen: LocalClusterOptions[] = [];
    const inits: InitFirstNodeOptions[] = [];
    const asked: string[] = [];
    try {
      const r = await miniUpVm({
        ...o,
        deps: {
          startCluster: fakeCluster(seen),
          fetch: statusFetch("waiting"),
          initFirstNode: okInit(inits),
          verifyNode: okVerify(asked),
        },
      });
      expect(r.kind).toBe("vm");
      expect(r.nodes.map((n) => [n.name, n.role, n.ips, n.verified])).toEqual([
        ["vmt-control-plane-0", "control-plane", ["10.0.2.15"], true],
        ["vmt-worker-0", "worker", ["10.0.2.16"], true],
      ]);
      expect(r.files["image"]).toBe("/images/asterism-node.raw");

      // The VMs: named after the cluster, every guest port forwarded, metadata reachable.
      const c = seen[0];
      expect(c?.clusterName).toBe("vmt");
      expect(c?.servicePorts).toEqual(Object.values(GUEST_PORTS));
      expect(c?.memoryMiB).toBe(1024);
      const st = readState(ws.state);
      expect(c?.metadataHostPort).toBe(Number(new URL(st?.mini?.metadataUrl ?? "").port));

      // Init: the image's measurements with PCR 15 = 0, sent as join policy; the API server at 10.0.2.100.
      const init = inits[0];
      expect(init?.endpoint).toBe("https://127.0.0.1:40000");
      expect(init?.controlPlaneEndpoint).toBe("10.0.2.100:6443");
      expect([...(init?.policy?.measurements.keys() ?? [])]).toEqual([4, 5, 8, 9, 11, 12, 13, 15]);
      expect(init?.policy?.measurements.get(15)?.expected).toBe(hex("0"));
      expect(init?.policy?.measurements.get(4)?.expected).toBe(hex("4"));

      // Verify asked every node's forwarded VerificationService.
      expect(asked.sort()).toEqual(["http://127.0.0.1:40005", "http://127.0.0.1:40105"]);

      // Metadata: roles, guest addresses, and control-plane-0's join endpoint.
      const md = await createMetadataClient({ url: st?.mini?.metadataUrl ?? "" }).instances();
      expect(md.map((i) => [i.name, i.role, i.ips, i.endpoints])).toEqual([
        ["vmt-control-plane-0", "control-plane", ["10.0.2.15"], { join: "https://10.0.2.100:9090" }],
        ["vmt-worker-0", "worker", ["10.0.2.16"], {}],
      ]);

      // The state file: image, cluster values, each VM with its processes, forwards and endpoints.
      expect(st?.mini?.image).toBe("/images/asterism-node.raw");
      expect(st?.clusterValues?.clusterID).toBe("07".repeat(32));
      expect(st?.infrastructure.initSecret).toBeUndefined();
      expect(st?.infrastructure.clusterEndpoint).toBe("127.0.0.1:40000");
      expect(st?.infrastructure.verifyEndpoints).toEqual([
        "http://127.0.0.1:40005",
        "http://127.0.0.1:40105",
      ]);
      const cp0 = st?.mini?.nodes.find((n) => n.name === "vmt-control-plane-0");
      expect(cp0?.processes.map((p) => p.name)).toEqual(["qemu", "swtpm"]);
      expect(cp0?.vm?.ports[String(GUEST_PORTS.verify)]).toBe(40005);
      expect(cp0?.endpoints).toEqual({
        verify: "http://127.0.0.1:40005",
        init: "https://127.0.0.1:40000",
        join: "https://10.0.2.100:9090",
      });
      expect(
        recordedProcesses(ws.state)
          .filter(isRunning)
          .map((p) => p.name)
          .sort(),
      ).toEqual(["metadata", "qemu", "qemu", "swtpm", "swtpm"]);
    } finally {
      await stopMini(ws, { removeFiles: false });
    }
    // `mini down` stops the VMs' processes like any other.
    expect(recordedProcesses(ws.state).filter(isRunning)).toEqual([]);
  }, 30_000);

  const failures: [string, Partial<MiniUpVmOptions["deps"]>, MiniError["code"], string][] = [
    [
      "init refused",
      {
        initFirstNode: async () => {
          throw new MiniError("START_FAILED", "init refused (test)");
        },
      },
      "START_FAILED",
      "init refused (test)",
    ],
    ["the bootstrapper failed", { fetch: statusFetch("failed") }, "START_FAILED", "phase failed"],
    ["the bootstrapper never gets ready", { fetch: statusFetch("starting") }, "TIMEOUT", "phase starting"],
    [
      "a node never answers a verify",
      {
        verifyNode: async (o: VerifyNodeOptions) => {
          throw new ClusterError("UNREACHABLE", `Cannot reach ${o.url} (test)`);
        },
      },
      "TIMEOUT",
      "serial.log",
    ],
  ];
  for (const [name, deps, code, text] of failures) {
    test(`${name}: ${code}, every recorded process stopped`, async () => {
      const { o, ws, io } = options(name.replaceAll(" ", "-"));
      const err = await miniUpVm({
        ...o,
        deps: {
          startCluster: fakeCluster([]),
          fetch: statusFetch("waiting"),
          initFirstNode: okInit([]),
          verifyNode: okVerify([]),
          ...deps,
        },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MiniError);
      expect((err as MiniError).code).toBe(code);
      expect((err as MiniError).message).toContain(text);
      const recorded = recordedProcesses(ws.state);
      expect(recorded.map((p) => p.name).sort()).toEqual(["metadata", "qemu", "qemu", "swtpm", "swtpm"]);
      expect(recorded.filter(isRunning)).toEqual([]);
      expect(io.err.join("")).toContain("stopping what was started");
    }, 30_000);
  }

  test("a VM start failing half-way: the VM that did start is recorded and stopped", async () => {
    const { o, ws } = options("half");
    const err = await miniUpVm({ ...o, deps: { startCluster: fakeCluster([], 1) } }).catch((e: unknown) => e);
    expect((err as MiniError).code).toBe("START_FAILED");
    const recorded = recordedProcesses(ws.state);
    expect(recorded.map((p) => p.name).sort()).toEqual(["metadata", "qemu", "swtpm"]);
    expect(recorded.filter(isRunning)).toEqual([]);
  }, 30_000);

  test("keep-on-failure leaves the VMs running for inspection", async () => {
    const { o, ws } = options("keep", { keepOnFailure: true });
    try {
      await miniUpVm({ ...o, deps: { startCluster: fakeCluster([]), fetch: statusFetch("failed") } }).catch(
        () => undefined,
      );
      expect(recordedProcesses(ws.state).filter(isRunning)).toHaveLength(5);
    } finally {
      await stopMini(ws, { removeFiles: false });
    }
  }, 30_000);

  test("a config for another image: CONFIG_UNSUPPORTED before anything starts", async () => {
    const other = new Map(IMAGE);
    for (const [i, m] of createMeasurements([[4, { expected: hex("e") }]])) other.set(i, m);
    const { o, ws } = options("mismatch", { imageMeasurements: other });
    const seen: LocalClusterOptions[] = [];
    const err = await miniUpVm({ ...o, deps: { startCluster: fakeCluster(seen) } }).catch((e: unknown) => e);
    expect((err as MiniError).code).toBe("CONFIG_UNSUPPORTED");
    expect(seen).toEqual([]);
    expect(readState(ws.state)).toBeUndefined();
  });

  test("the timeouts are bounded", () => {
    expect(Object.values(VM_TIMEOUTS).every((ms) => ms > 0 && ms <= 10 * 60_000)).toBe(true);
  });
});

describe("ensureImage", () => {
  test("an existing image is used as it is; nothing is built", async () => {
    const img = join(dir, "given.raw");
    await Bun.write(img, "x");
    const built: string[] = [];
    expect(await ensureImage(img, join(dir, "bin"), (s) => built.push(s))).toBe(img);
    expect(built).toEqual([]);
  });
  test("a missing image that is not the checkout's default: IMAGE_MISSING naming the build", async () => {
    const err = await ensureImage(join(dir, "absent.raw"), join(dir, "bin"), () => undefined).catch(
      (e: unknown) => e,
    );
    expect((err as MiniError).code).toBe("IMAGE_MISSING");
    expect((err as MiniError).message).toContain("image/build.ts");
  });
  test("the checkout's default image, missing: built with scripts/build.ts then image/build.ts", async () => {
    const root = join(dir, "checkout");
    const binDir = join(root, "dist");
    const runs: string[] = [];
    const run = (fail: string) => async (argv: readonly string[], cwd: string) => {
      runs.push(`${cwd}: ${argv.join(" ")}`);
      return { code: argv[1] === fail ? 1 : 0, tail: "mmdebstrap failed (test)" };
    };
    // Another path than the default one is never built.
    const other = await ensureImage(join(dir, "elsewhere.raw"), binDir, () => undefined, {
      root,
      run: run(""),
    }).catch((e: unknown) => e);
    expect((other as MiniError).code).toBe("IMAGE_MISSING");
    expect(runs).toEqual([]);
    const said: string[] = [];
    const err = await ensureImage(defaultImagePath(binDir), binDir, (s) => said.push(s), {
      root,
      run: run("image/build.ts"),
    }).catch((e: unknown) => e);
    expect((err as MiniError).code).toBe("IMAGE_MISSING");
    expect((err as MiniError).message).toContain("mmdebstrap failed (test)");
    expect(runs).toEqual([
      `${root}: bun scripts/build.ts bootstrapper join-service kms verification-service`,
      `${root}: bun image/build.ts`,
    ]);
    expect(said).toHaveLength(2);
    // Both steps succeeding without an image is still IMAGE_MISSING (never a boot of nothing).
    const none = await ensureImage(defaultImagePath(binDir), binDir, () => undefined, {
      root,
      run: run(""),
    }).catch((e: unknown) => e);
    expect((none as MiniError).message).toContain("wrote no image");
  });
});
