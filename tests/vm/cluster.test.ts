/**
 * The VM local cluster end to end, through the CLI as an operator runs it (`asterism mini up --vm`):
 * one control plane and one worker as QEMU guests (OVMF, a swtpm vTPM each) booted from the node image.
 * Init goes over server-attested aTLS, the worker joins over client-attested aTLS, and every state disk
 * is a real dm-crypt mapping inside its guest. Then:
 *
 *  - the PCRs `precomputeImageMeasurements` predicts, side by side with what each node's
 *    VerificationService quotes (`asterism verify`), PCR 15 = the cluster ID's value;
 *  - `asterism mini reboot` of the worker (a machine reset; the vTPM resets with it): it rejoins,
 *    verifies again, and its bootstrapper unlocks and maps the existing state disk (serial console);
 *  - a worker booted from a copy of the image with one changed kernel command-line byte is refused by
 *    control-plane-0's JoinService, which names PCRs 4, 9 and 11 in its log (control-plane-0's serial
 *    console).
 *
 * Heavy (gated like tests/vm/measured-boot.test.ts, tests/support/vm.ts; ASTERISM_VM_TESTS=0 skips it):
 * builds the image if needed and boots three VMs under TCG (this host's KVM cannot run OVMF). Prints each phase's duration.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromHex } from "@asterism/bytes";
import { precomputeImageMeasurements } from "@asterism/measured-boot";
import { withClusterId } from "@asterism/measurements";
import { createMetadataClient } from "@asterism/metadata";
import {
  GUEST_ADDRESSES,
  GUEST_PORTS,
  METADATA_GUEST_PORT,
  nodeGuestIp,
  startNodeVm,
  stopNodeVm,
} from "@asterism/node-vm";
import { repoRoot } from "@asterism/testing";
import { parse as parseYaml } from "yaml";
import { buildNodeImage, canRunVmTests, NODE_IMAGE, tamperCmdline } from "../support/vm.ts";

const root = repoRoot;
const BUILD_MS = 20 * 60_000;
const UP_MS = 15 * 60_000;
const REBOOT_MS = 12 * 60_000;
const REFUSAL_MS = 10 * 60_000;
/** The cluster name of the configuration `mini up` writes in a new workspace. */
const CLUSTER = "mini";
const WORKER = `${CLUSTER}-worker-0`;
const CP0 = `${CLUSTER}-control-plane-0`;

const image = NODE_IMAGE;
const cli = join(root, "apps", "cli", "src", "main.ts");
let work = "";
let ws = "";
let tamperedDir = "";
const timings: [string, number][] = [];

interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** Run `asterism …` in the workspace; its progress lines go to our stderr as they come. */
async function asterism(args: string[], timeoutMs: number): Promise<CliRun> {
  const proc = Bun.spawn(["bun", cli, ...args, "-C", ws], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const timer = setTimeout(() => proc.kill("SIGINT"), timeoutMs);
  const errChunks: string[] = [];
  const pump = (async () => {
    for await (const chunk of proc.stderr) {
      const text = new TextDecoder().decode(chunk);
      errChunks.push(text);
      process.stderr.write(text);
    }
  })();
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited, pump]);
  clearTimeout(timer);
  return { code, out, err: errChunks.join("") };
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    timings.push([label, (performance.now() - t0) / 1000]);
  }
}

/** The JSON log lines (`{"time":…,"msg":…}`) a guest printed on its serial console, from byte `from` on. */
function consoleLines(serialLog: string, from = 0): Record<string, unknown>[] {
  if (!existsSync(serialLog)) return [];
  const text = readFileSync(serialLog).subarray(from).toString("utf8");
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    const at = line.indexOf('{"time":');
    if (at < 0) continue;
    try {
      out.push(JSON.parse(line.slice(at).trim()) as Record<string, unknown>);
    } catch {
      /* a console line cut by another writer */
    }
  }
  return out;
}

interface StateNode {
  name: string;
  endpoints: Record<string, string>;
  vm?: { dir: string; serialLog: string; ports: Record<string, number> };
}
interface VerifyJson {
  valid: boolean;
  clusterId: string;
  nodes: { name?: string; valid: boolean; measurements?: Record<string, string>; message?: string }[];
}

/** The workspace state as the CLI wrote it (`mini status --output json` is the reader). */
async function status(): Promise<{ nodes: (StateNode & { serialLog?: string; phase?: string })[] }> {
  const r = await asterism(["mini", "status", "--output", "json"], 60_000);
  return JSON.parse(r.out) as { nodes: (StateNode & { serialLog?: string; phase?: string })[] };
}

describe.if(canRunVmTests)("VM local cluster (mini up --vm)", () => {
  let up: { clusterId: string; nodes: { name: string; verified: boolean }[] } | undefined;

  beforeAll(async () => {
    await timed("image build (cached by inputs)", async () => buildNodeImage());
    work = mkdtempSync(join(tmpdir(), "asterism-vm-cluster-"));
    ws = join(work, "ws");
    const r = await timed("mini up --vm (1 control plane + 1 worker)", () =>
      asterism(["mini", "up", "--vm", "--control-planes", "1", "--workers", "1", "--output", "json"], UP_MS),
    );
    if (r.code !== 0) throw new Error(`mini up --vm failed (exit ${r.code}): ${r.out}`);
    up = JSON.parse(r.out) as typeof up;
  }, BUILD_MS + UP_MS);

  afterAll(async () => {
    if (tamperedDir) await stopNodeVm(tamperedDir, 2000);
    if (ws) await asterism(["mini", "down"], 120_000);
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(
      ["phase                                             seconds"]
        .concat(timings.map(([l, s]) => `${l.padEnd(50)}${s.toFixed(1).padStart(7)}`))
        .join("\n"),
    );
  }, 180_000);

  test("both nodes came up verified, named and addressed as the contract says", () => {
    expect(up?.nodes.map((n) => [n.name, n.verified])).toEqual([
      [CP0, true],
      [WORKER, true],
    ]);
  });

  test("PCRs: precomputed from the image = quoted by each node's VerificationService (side by side)", async () => {
    const r = await asterism(["verify", "--output", "json"], 120_000);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.out) as VerifyJson;
    const predicted = precomputeImageMeasurements(readFileSync(image)).measurements;
    const expected = withClusterId(
      new Map(Object.entries(predicted).map(([i, m]) => [Number(i), m] as const)),
      fromHex(v.clusterId),
    );
    const quoted = (name: string, i: number) =>
      v.nodes.find((n) => n.name === name)?.measurements?.[String(i)] ?? "missing";
    const rows = [...expected].map(([i, m]) => ({
      pcr: i,
      precomputed: m.expected,
      cp: quoted(CP0, i),
      worker: quoted(WORKER, i),
    }));
    const mark = (a: string, b: string) => (a === b ? "=" : "≠");
    console.log(
      [`pcr  precomputed (PCR 15: cluster ID)${" ".repeat(31)}${CP0}  ${WORKER}`]
        .concat(
          rows.map(
            (x) =>
              `${String(x.pcr).padStart(3)}  ${x.precomputed}  ${mark(x.precomputed, x.cp)} ${x.cp.slice(0, 16)}…  ${mark(x.precomputed, x.worker)} ${x.worker.slice(0, 16)}…`,
          ),
        )
        .join("\n"),
    );
    for (const x of rows) {
      expect({ pcr: x.pcr, cp: x.cp, worker: x.worker }).toEqual({
        pcr: x.pcr,
        cp: x.precomputed,
        worker: x.precomputed,
      });
    }
  }, 180_000);

  test(
    "reboot the worker: it rejoins, unlocks and maps its existing state disk, and verifies again",
    async () => {
      const before = await status();
      const worker = before.nodes.find((n) => n.name === WORKER);
      const serial = worker?.serialLog ?? "";
      const from = existsSync(serial) ? statSync(serial).size : 0;
      // Meanwhile, the tampered worker boots (test below): the two boots overlap to save minutes.
      startTamperedWorker();
      const r = await timed("mini reboot <worker> → rejoined and verified", () =>
        asterism(["mini", "reboot", WORKER, "--output", "json"], REBOOT_MS),
      );
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ node: WORKER, rejoined: true });
      const lines = consoleLines(serial, from);
      const msgs = lines.map((l) => l["msg"]);
      // This boot found an initialized disk: unlocked with the key from the rejoin, never formatted.
      expect(msgs).toContain("disk.unlocked");
      expect(lines.find((l) => l["msg"] === "disk.mapped")?.["reason"]).toBe("unlock");
      expect(msgs).not.toContain("disk.formatted");
      expect(msgs).toContain("state.mounted");
      const v = await asterism(["verify", "--output", "json"], 120_000);
      expect(v.code).toBe(0);
      expect((JSON.parse(v.out) as VerifyJson).nodes.every((n) => n.valid)).toBe(true);
    },
    REBOOT_MS + 180_000,
  );

  /** Resolves to the start's error, if any (checked by the refusal test, never left unhandled). */
  let tamperedStart: Promise<unknown> | undefined;
  /**
   * Boot `<cluster>-worker-1` from a copy of the image with one command-line byte changed, wired like
   * `mini up --vm` wires a worker (node name in fw_cfg, 10.0.2.17, control-plane-0 at 10.0.2.100,
   * metadata at 10.0.2.101) and registered in metadata with the launcher token, so only its boot differs.
   */
  function startTamperedWorker(): void {
    tamperedStart = (async () => {
      const state = parseYaml(readFileSync(join(ws, "asterism-state.yaml"), "utf8")) as {
        mini: { metadataUrl: string; nodes: StateNode[] };
      };
      const cp0 = state.mini.nodes.find((n) => n.name === CP0);
      const token = readFileSync(join(ws, "asterism-mini", "metadata.token"), "utf8").trim();
      const name = `${CLUSTER}-worker-1`;
      const ip = nodeGuestIp(2);
      await createMetadataClient({ url: state.mini.metadataUrl }).putInstance(token, name, {
        role: "worker",
        ips: [ip],
      });
      const img = join(work, "tampered.raw");
      tamperCmdline(image, img);
      tamperedDir = join(work, "tampered-vm");
      await startNodeVm({
        name: "worker-tampered",
        nodeName: name,
        guestIp: ip,
        image: img,
        dir: tamperedDir,
        guestForwards: [
          ...Object.values(GUEST_PORTS).map((guestPort) => ({
            guestAddress: GUEST_ADDRESSES.controlPlane,
            guestPort,
            hostPort: cp0?.vm?.ports[String(guestPort)] ?? 0,
          })),
          {
            guestAddress: GUEST_ADDRESSES.metadata,
            guestPort: METADATA_GUEST_PORT,
            hostPort: Number(new URL(state.mini.metadataUrl).port),
          },
        ],
      });
      return undefined;
    })().catch((err: unknown) => err);
  }

  test(
    "a worker booted with one changed command-line byte is refused; the JoinService names PCRs 4, 9, 11",
    async () => {
      const startError = await tamperedStart;
      if (startError) throw startError;
      const cp0Serial = (await status()).nodes.find((n) => n.name === CP0)?.serialLog ?? "";
      const refusal = await timed("tampered worker refused (its boot overlapped the reboot)", async () => {
        const end = Date.now() + REFUSAL_MS - 30_000;
        while (Date.now() < end) {
          const hit = consoleLines(cp0Serial).find(
            (l) => l["msg"] === "join.atls_rejected" && typeof l["mismatchedPcrs"] === "string",
          );
          if (hit) return hit;
          await Bun.sleep(2000);
        }
        return undefined;
      });
      console.log(`JoinService on ${CP0}: ${JSON.stringify(refusal)}`);
      expect(refusal?.["mismatchedPcrs"]).toBe("4,9,11");
      expect(String(refusal?.["mismatches"])).toContain("[4] expected");
      // The refused node got nothing: the cluster still lists exactly the two verified nodes.
      const v = await asterism(["verify", "--output", "json"], 120_000);
      expect((JSON.parse(v.out) as VerifyJson).nodes.map((n) => [n.name, n.valid])).toEqual([
        [CP0, true],
        [WORKER, true],
      ]);
    },
    REFUSAL_MS,
  );
});
