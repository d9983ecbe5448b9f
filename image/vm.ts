#!/usr/bin/env bun
/**
 * Run one node VM from the built image (until `asterism mini up --vm` drives @asterism/node-vm):
 *
 *   bun image/vm.ts up [--name N] [--dir D] [--image F] [--forward GUESTPORT]…   boot, wait for the boot report
 *   bun image/vm.ts status [--dir D]
 *   bun image/vm.ts down [--dir D]                                                 power off; nothing keeps running
 *
 * The directory (default dist/vm/<name>) keeps the OVMF variables, TPM state and state disk across
 * down/up, so up after down is a reboot of the same node.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { toHex } from "@asterism/bytes";
import { precomputeImageMeasurements } from "@asterism/measured-boot";
import { nodeVmStatus, startNodeVm, stopNodeVm, waitForBootReport } from "@asterism/node-vm";

const repo = resolve(import.meta.dir, "..");
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: "string", default: "node-0" },
    dir: { type: "string" },
    image: { type: "string", default: join(repo, "dist", "image", "asterism-node.raw") },
    forward: { type: "string", multiple: true, default: [] },
  },
});
const name = values.name ?? "node-0";
const dir = resolve(values.dir ?? join(repo, "dist", "vm", name));
const cmd = positionals[0];

if (cmd === "up") {
  const vm = await startNodeVm({
    name,
    dir,
    image: resolve(values.image ?? ""),
    hostForwards: (values.forward ?? []).map((p) => ({ guestPort: Number(p) })),
  });
  process.stdout.write(
    `started ${vm.name}: qemu ${vm.qemuPid}, swtpm ${vm.swtpmPid}, serial ${vm.serialLog}\n`,
  );
  for (const [g, h] of vm.ports) process.stdout.write(`  guest :${g} → 127.0.0.1:${h}\n`);
  const report = await waitForBootReport(vm.reportLog, 180_000);
  const expected = precomputeImageMeasurements(
    await Bun.file(resolve(values.image ?? "")).bytes(),
  ).measurements;
  process.stdout.write("pcr  precomputed                                                        booted\n");
  for (const [i, v] of [...report.pcrs].sort((a, b) => a[0] - b[0])) {
    const e = expected[String(i)]?.expected;
    const mark = e === undefined ? " " : e === toHex(v) ? "=" : "≠";
    process.stdout.write(`${String(i).padStart(2)}   ${(e ?? "-").padEnd(64)} ${mark} ${toHex(v)}\n`);
  }
} else if (cmd === "down") {
  await stopNodeVm(dir);
  process.stdout.write(`stopped ${dir}\n`);
} else if (cmd === "status") {
  const s = nodeVmStatus(dir);
  process.stdout.write(
    `${dir}: qemu ${s.qemu ? "running" : "stopped"}, swtpm ${s.swtpm ? "running" : "stopped"}\n`,
  );
} else {
  process.stderr.write(
    "usage: bun image/vm.ts up|down|status [--name N] [--dir D] [--image F] [--forward PORT]\n",
  );
  process.exit(2);
}
