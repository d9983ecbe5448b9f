/**
 * The VM cluster's networking and naming as QEMU gets them (argv and plan; nothing boots): fw_cfg node
 * name, per-node DHCP address, loopback-only host forwards, the control-plane and metadata guest
 * forwards, and the checks that keep an odd value out of QEMU's option syntax.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planLocalCluster, startLocalCluster } from "./cluster.ts";
import { NodeVmError } from "./errors.ts";
import { GUEST_ADDRESSES, GUEST_PORTS, METADATA_GUEST_URL, nodeGuestIp } from "./ports.ts";
import { FW_CFG_NODE_NAME, type NodeVm, type NodeVmOptions, qemuArgv } from "./vm.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-node-vm-net-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(NodeVmError);
    return (err as NodeVmError).code;
  }
  return undefined;
}

/** The value following `flag` (every occurrence). */
function values(argv: readonly string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag && argv[i + 1] !== undefined ? [argv[i + 1] as string] : []));
}

const base: NodeVmOptions = { name: "worker-0", image: "/img/asterism-node.raw", dir: "/vms/worker-0" };

describe("guest addresses", () => {
  test("the fixed table of the contract", () => {
    expect(GUEST_ADDRESSES).toEqual({ controlPlane: "10.0.2.100", metadata: "10.0.2.101" });
    expect(METADATA_GUEST_URL).toBe("http://10.0.2.101:80");
    expect(GUEST_PORTS).toEqual({
      init: 9000,
      recovery: 9999,
      bootstrapperStatus: 9080,
      join: 9090,
      joinHttp: 9091,
      verify: 8080,
    });
  });
  test("node i gets 10.0.2.(15+i), below the fixed addresses", () => {
    expect([0, 1, 2, 84].map(nodeGuestIp)).toEqual(["10.0.2.15", "10.0.2.16", "10.0.2.17", "10.0.2.99"]);
    for (const bad of [-1, 85, 1.5]) expect(codeOf(() => nodeGuestIp(bad))).toBe("INVALID_OPTIONS");
  });
});

describe("qemuArgv", () => {
  test("node name in fw_cfg, DHCP address, loopback host forwards, guest forwards, restrict=on", () => {
    const argv = qemuArgv(
      {
        ...base,
        nodeName: "mini-worker-0",
        guestIp: "10.0.2.16",
        guestForwards: [{ guestAddress: "10.0.2.101", guestPort: 80, hostPort: 4100 }],
      },
      "/vms/worker-0",
      new Map([
        [9000, 4001],
        [8080, 4002],
      ]),
      "tcg",
    );
    expect(values(argv, "-fw_cfg")).toEqual([`name=${FW_CFG_NODE_NAME},string=mini-worker-0`]);
    expect(FW_CFG_NODE_NAME).toBe("opt/asterism/node-name");
    expect(values(argv, "-netdev")).toEqual([
      [
        "user",
        "id=net0",
        "restrict=on",
        "net=10.0.2.0/24",
        "dhcpstart=10.0.2.16",
        "hostfwd=tcp:127.0.0.1:4001-:9000",
        "hostfwd=tcp:127.0.0.1:4002-:8080",
        "guestfwd=tcp:10.0.2.101:80-cmd:socat -lf /dev/null - TCP:127.0.0.1:4100",
      ].join(","),
    ]);
    expect(values(argv, "-machine")).toEqual(["q35,accel=tcg,smm=off"]);
    expect(values(argv, "-cpu")).toEqual(["max"]);
    expect(values(argv, "-drive")).toContain(
      "file=/img/asterism-node.raw,format=raw,if=none,id=os,readonly=on",
    );
    expect(values(argv, "-device")).toContain("virtio-blk-pci,drive=state,serial=asterism-state");
    expect(values(argv, "-qmp")).toEqual(["unix:/vms/worker-0/qmp.sock,server=on,wait=off"]);
    // Every forward binds loopback only.
    for (const fwd of (values(argv, "-netdev")[0] ?? "").split(",").filter((f) => f.startsWith("hostfwd=")))
      expect(fwd).toStartWith("hostfwd=tcp:127.0.0.1:");
  });

  test("without a node name or address: no fw_cfg, QEMU's default DHCP start", () => {
    const argv = qemuArgv(base, "/vms/worker-0", new Map(), "kvm");
    expect(values(argv, "-fw_cfg")).toEqual([]);
    expect(values(argv, "-netdev")[0]).not.toContain("dhcpstart");
    expect(values(argv, "-cpu")).toEqual(["host"]);
  });

  const refused: [string, Partial<NodeVmOptions>][] = [
    ["a node name with a comma (QEMU option syntax)", { nodeName: "a,b" }],
    ["a node name with upper case", { nodeName: "Worker" }],
    ["a node name of 64 characters", { nodeName: "a".repeat(64) }],
    ["a node name ending in a dash", { nodeName: "worker-" }],
    ["a guest address outside 10.0.2.0/24", { guestIp: "10.0.3.15" }],
    ["a guest address among the fixed ones", { guestIp: "10.0.2.100" }],
    ["the gateway as guest address", { guestIp: "10.0.2.2" }],
    [
      "a guest forward to the gateway",
      { guestForwards: [{ guestAddress: "10.0.2.2", guestPort: 1, hostPort: 2 }] },
    ],
    [
      "a guest forward to host port 0",
      { guestForwards: [{ guestAddress: "10.0.2.101", guestPort: 80, hostPort: 0 }] },
    ],
  ];
  for (const [name, extra] of refused) {
    test(`${name} is INVALID_OPTIONS`, () => {
      expect(codeOf(() => qemuArgv({ ...base, ...extra }, "/vms/x", new Map(), "tcg"))).toBe(
        "INVALID_OPTIONS",
      );
    });
  }
});

describe("planLocalCluster", () => {
  const cp0Ports = new Map(Object.values(GUEST_PORTS).map((p, i) => [p, 5000 + i] as const));
  const plan = planLocalCluster(
    {
      image: "/img/x.raw",
      dir: "/c",
      controlPlanes: 2,
      workers: 2,
      clusterName: "mini",
      servicePorts: Object.values(GUEST_PORTS),
      metadataHostPort: 6000,
      memoryMiB: 1536,
    },
    cp0Ports,
  );

  test("names, roles and addresses in cluster order", () => {
    expect(plan.map((n) => [n.nodeName, n.role, n.ip, n.vm.name, n.vm.dir])).toEqual([
      ["mini-control-plane-0", "control-plane", "10.0.2.15", "control-plane-0", "/c/control-plane-0"],
      ["mini-control-plane-1", "control-plane", "10.0.2.16", "control-plane-1", "/c/control-plane-1"],
      ["mini-worker-0", "worker", "10.0.2.17", "worker-0", "/c/worker-0"],
      ["mini-worker-1", "worker", "10.0.2.18", "worker-1", "/c/worker-1"],
    ]);
    for (const n of plan) {
      expect(n.vm.nodeName).toBe(n.nodeName);
      expect(n.vm.guestIp).toBe(n.ip);
      expect(n.vm.memoryMiB).toBe(1536);
    }
  });

  test("control-plane-0's ports are the fixed loopback ports the others reach at 10.0.2.100", () => {
    const [cp0, ...others] = plan;
    expect(cp0?.vm.hostForwards).toEqual(
      [...cp0Ports].map(([guestPort, hostPort]) => ({ guestPort, hostPort })),
    );
    expect(cp0?.vm.guestForwards).toEqual([{ guestAddress: "10.0.2.101", guestPort: 80, hostPort: 6000 }]);
    for (const n of others) {
      // Their own forwards pick free ports at start.
      expect(n.vm.hostForwards?.every((f) => f.hostPort === undefined)).toBe(true);
      expect(n.vm.guestForwards).toEqual([
        ...[...cp0Ports].map(([guestPort, hostPort]) => ({
          guestAddress: "10.0.2.100",
          guestPort,
          hostPort,
        })),
        { guestAddress: "10.0.2.101", guestPort: 80, hostPort: 6000 },
      ]);
    }
  });

  test("each node's argv carries its own name and address", () => {
    for (const n of plan) {
      const argv = qemuArgv(n.vm, n.vm.dir, new Map(), "tcg");
      expect(values(argv, "-fw_cfg")).toEqual([`name=opt/asterism/node-name,string=${n.nodeName}`]);
      expect(values(argv, "-netdev")[0]).toContain(`dhcpstart=${n.ip}`);
    }
  });

  test("without a cluster name, the node names are the VM names", () => {
    const p = planLocalCluster(
      { image: "/i", dir: "/c", controlPlanes: 1, workers: 0, servicePorts: [] },
      new Map(),
    );
    expect(p.map((n) => n.nodeName)).toEqual(["control-plane-0"]);
  });
});

describe("startLocalCluster with an injected VM starter", () => {
  const fakeVm = (o: NodeVmOptions): NodeVm => ({
    name: o.name,
    dir: o.dir,
    serialLog: join(o.dir, "serial.log"),
    reportLog: join(o.dir, "boot-report.log"),
    qemuPid: 0,
    swtpmPid: 0,
    ports: new Map((o.hostForwards ?? []).map((f) => [f.guestPort, f.hostPort ?? 1])),
    tpmCa: undefined,
  });

  test("reports every node as it starts; the cluster file lists names, addresses and ports", async () => {
    const seen: string[] = [];
    const cluster = await startLocalCluster({
      image: "/i",
      dir: join(dir, "ok"),
      controlPlanes: 1,
      workers: 1,
      clusterName: "t",
      servicePorts: [GUEST_PORTS.verify],
      metadataHostPort: 7000,
      startVm: async (o) => fakeVm(o),
      onNodeStarted: (n) => seen.push(n.nodeName),
    });
    expect(seen.sort()).toEqual(["t-control-plane-0", "t-worker-0"]);
    expect(cluster.nodes.map((n) => [n.nodeName, n.ip])).toEqual([
      ["t-control-plane-0", "10.0.2.15"],
      ["t-worker-0", "10.0.2.16"],
    ]);
    const file = (await Bun.file(join(dir, "ok", "cluster.json")).json()) as {
      nodes: { nodeName: string }[];
    };
    expect(file.nodes.map((n) => n.nodeName)).toEqual(["t-control-plane-0", "t-worker-0"]);
  });

  test("one VM failing fails the start with its error", async () => {
    const err = await startLocalCluster({
      image: "/i",
      dir: join(dir, "fail"),
      controlPlanes: 1,
      workers: 1,
      servicePorts: [],
      startVm: async (o) => {
        if (o.name === "worker-0")
          throw new NodeVmError("START_FAILED", "Cannot start qemu", { actual: "exit 1" });
        return fakeVm(o);
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeVmError);
    expect((err as NodeVmError).code).toBe("START_FAILED");
  });
});
