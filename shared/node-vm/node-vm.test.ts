import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseBootReport, waitForBootReport } from "./boot-report.ts";
import { startLocalCluster, stopLocalCluster } from "./cluster.ts";
import { NodeVmError } from "./errors.ts";
import { manufactureTpm } from "./manufacture.ts";
import { qmpCommand } from "./qmp.ts";
import { defaultAccel, nodeVmStatus, startNodeVm } from "./vm.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-node-vm-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectCode(p: Promise<unknown>, code: NodeVmError["code"]): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(NodeVmError);
  expect((caught as NodeVmError).code).toBe(code);
}

const pcrLine = (i: number, b: string) => `pcr ${i} ${b.repeat(64)}`;
const report = [
  "[  OK  ] Started something.\r",
  "ASTERISM-PCRS-BEGIN\r",
  `${pcrLine(4, "A")}\r`,
  `${pcrLine(11, "b")}\r`,
  "fact state-disk present\r",
  "ASTERISM-PCRS-END\r",
  "ASTERISM-EVENTLOG-BEGIN\r",
  "AAEC\r",
  "Aw==\r",
  "ASTERISM-EVENTLOG-END\r",
].join("\n");

describe("boot report", () => {
  test("parses PCR lines and the base64 event log, tolerating CRLF", () => {
    const r = parseBootReport(report);
    expect(r?.pcrs.get(4)).toEqual(new Uint8Array(32).fill(0xaa));
    expect(r?.pcrs.get(11)).toEqual(new Uint8Array(32).fill(0xbb));
    expect(r?.eventLog).toEqual(new Uint8Array([0, 1, 2, 3]));
    expect(r?.facts.get("state-disk")).toBe("present");
  });

  test("an incomplete report is not a report yet", () => {
    expect(parseBootReport("ASTERISM-PCRS-BEGIN\npcr 4 ")).toBeUndefined();
    expect(parseBootReport(report.slice(0, report.indexOf("ASTERISM-EVENTLOG-END")))).toBeUndefined();
  });

  test("markers without PCR lines are MALFORMED_BOOT_REPORT", () => {
    expect(() => parseBootReport("ASTERISM-PCRS-BEGIN\nnoise\nASTERISM-PCRS-END\n")).toThrow(NodeVmError);
  });

  test("a garbled event log is MALFORMED_BOOT_REPORT, not a stray decoding error", () => {
    const garbled = report.replace("AAEC", "AA[ 132.2] kvm: EC");
    let caught: unknown;
    try {
      parseBootReport(garbled);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NodeVmError);
    expect((caught as NodeVmError).code).toBe("MALFORMED_BOOT_REPORT");
  });

  test("waiting is bounded: BOOT_TIMEOUT", async () => {
    const log = join(dir, "serial.log");
    writeFileSync(log, "booting…\n");
    await expectCode(waitForBootReport(log, 300), "BOOT_TIMEOUT");
  });
});

describe("startNodeVm option checks", () => {
  test("a name outside [a-z0-9-] is INVALID_OPTIONS", async () => {
    await expectCode(startNodeVm({ name: "../x", image: "/dev/null", dir }), "INVALID_OPTIONS");
  });
  test("a missing image is INVALID_OPTIONS", async () => {
    await expectCode(startNodeVm({ name: "n", image: join(dir, "nope.raw"), dir }), "INVALID_OPTIONS");
  });
  test("a guest forward outside 10.0.2.3-254 is INVALID_OPTIONS", async () => {
    const img = join(dir, "img.raw");
    writeFileSync(img, "");
    await expectCode(
      startNodeVm({
        name: "n",
        image: img,
        dir: join(dir, "vm"),
        accel: "tcg",
        guestForwards: [{ guestAddress: "192.168.1.1", guestPort: 1, hostPort: 2 }],
      }),
      "INVALID_OPTIONS",
    );
  });
  test("status of a directory with no VM is stopped", () => {
    expect(nodeVmStatus(dir)).toEqual({ qemu: false, swtpm: false });
  });
  test("accelerator override", () => {
    const saved = process.env["ASTERISM_VM_ACCEL"];
    process.env["ASTERISM_VM_ACCEL"] = "tcg";
    expect(defaultAccel()).toBe("tcg");
    if (saved === undefined) delete process.env["ASTERISM_VM_ACCEL"];
    else process.env["ASTERISM_VM_ACCEL"] = saved;
  });
});

describe("qmpCommand", () => {
  test("negotiates capabilities, runs the command, returns its result", async () => {
    const sock = join(dir, "qmp.sock");
    const seen: string[] = [];
    const srv = createServer((c) => {
      c.write('{"QMP": {"version": {}, "capabilities": []}}\n');
      c.on("data", (d) => {
        for (const line of d.toString().split("\n").filter(Boolean)) {
          const cmd = (JSON.parse(line) as { execute: string }).execute;
          seen.push(cmd);
          c.write('{"event": "SOMETHING"}\n');
          c.write(cmd === "query-status" ? '{"return": {"status": "running"}}\n' : '{"return": {}}\n');
        }
      });
    });
    await new Promise<void>((ok) => srv.listen(sock, ok));
    try {
      expect(await qmpCommand(sock, "query-status")).toEqual({ status: "running" });
      expect(seen).toEqual(["qmp_capabilities", "query-status"]);
    } finally {
      srv.close();
    }
  });

  test("an error reply is QMP_FAILED", async () => {
    const sock = join(dir, "qmp2.sock");
    const srv = createServer((c) => {
      c.write('{"QMP": {}}\n');
      c.on("data", () => c.write('{"error": {"class": "GenericError", "desc": "no"}}\n'));
    });
    await new Promise<void>((ok) => srv.listen(sock, ok));
    try {
      await expectCode(qmpCommand(sock, "quit"), "QMP_FAILED");
    } finally {
      srv.close();
    }
  });

  test("no socket is QMP_FAILED", async () => {
    await expectCode(qmpCommand(join(dir, "absent.sock"), "quit", 500), "QMP_FAILED");
  });
});

describe.if(Bun.which("swtpm_setup") !== null)("manufactureTpm", () => {
  test("creates EK certificates under a per-VM CA once, and keeps them on the next start", async () => {
    const vmDir = join(dir, "manufactured");
    const ca = await manufactureTpm(vmDir, join(vmDir, "tpm"));
    expect(existsSync(ca.rootCert)).toBe(true);
    expect(existsSync(ca.issuerCert)).toBe(true);
    const permall = join(vmDir, "tpm", "tpm2-00.permall");
    const before = readFileSync(permall);
    await manufactureTpm(vmDir, join(vmDir, "tpm"));
    expect(readFileSync(permall)).toEqual(before);
  }, 30_000);
});

describe("startLocalCluster", () => {
  const sizes: [string, number, number][] = [
    ["no control plane", 0, 1],
    ["six control planes", 6, 0],
    ["negative workers", 1, -1],
  ];
  for (const [name, controlPlanes, workers] of sizes) {
    test(`${name} is INVALID_OPTIONS`, async () => {
      await expectCode(
        startLocalCluster({
          image: "/dev/null",
          dir: join(dir, "cluster"),
          controlPlanes,
          workers,
          servicePorts: [],
        }),
        "INVALID_OPTIONS",
      );
    });
  }
  test("stopping a cluster directory with no nodes is a no-op", async () => {
    await stopLocalCluster(join(dir, "no-cluster"));
  });
});
