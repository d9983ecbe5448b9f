import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseMeasurementsJson } from "@asterism/measurements";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-precompute-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]) {
  const io = memoryIo();
  const code = await runCli(rootCommand, argv, io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const canBuildUki = existsSync(STUB) && Bun.which("objcopy") !== null;

/** A UKI as image/build.ts makes one, with the stub itself standing in for the kernel. */
function buildUki(cmdline: string): string {
  const files = { osrel: "ID=debian\n", cmdline, initrd: "initrd-bytes" };
  for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
  const out = join(dir, `uki-${cmdline.length}.efi`);
  const p = Bun.spawnSync([
    "objcopy",
    ...["--add-section", `.osrel=${join(dir, "osrel")}`, "--change-section-vma", ".osrel=0x20000"],
    ...["--add-section", `.cmdline=${join(dir, "cmdline")}`, "--change-section-vma", ".cmdline=0x30000"],
    ...["--add-section", `.initrd=${join(dir, "initrd")}`, "--change-section-vma", ".initrd=0x40000"],
    ...["--add-section", `.linux=${STUB}`, "--change-section-vma", ".linux=0x1000000"],
    STUB,
    out,
  ]);
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
  return out;
}

describe("asterism measurements precompute", () => {
  test.if(canBuildUki)(
    "prints a policy of PCRs 4, 8, 9, 11, 12, 13, 15 the measurements parser accepts",
    async () => {
      const r = await run(["measurements", "precompute", "--image", buildUki("console=ttyS0 ro")]);
      expect(r.code).toBe(0);
      const policy = parseMeasurementsJson(r.out);
      expect([...policy.keys()].sort((a, b) => a - b)).toEqual([4, 8, 9, 11, 12, 13, 15]);
      expect(policy.get(15)?.expected).toBe("00".repeat(32));
    },
  );

  test.if(canBuildUki)("--events lists the predicted events on stderr", async () => {
    const r = await run(["measurements", "precompute", "--image", buildUki("console=ttyS1 ro"), "--events"]);
    expect(r.code).toBe(0);
    const pcr4 = r.err.split("\n").filter((l) => l.startsWith("pcr  4"));
    expect(pcr4.map((l) => l.split(/\s+/)[2])).toEqual([
      "EV_EFI_ACTION",
      "EV_SEPARATOR",
      "EV_EFI_BOOT_SERVICES_APPLICATION",
      "EV_EFI_BOOT_SERVICES_APPLICATION",
    ]);
    expect(r.err).toContain(".cmdline section");
    expect(parseMeasurementsJson(r.out).size).toBe(7);
  });

  test("a file that is neither a UKI nor a GPT disk image is a usage error (exit 2)", async () => {
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, new Uint8Array(8192));
    const r = await run(["measurements", "precompute", "--image", junk]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("EFI PART");
  });

  test("a missing image file is a usage error (exit 2)", async () => {
    expect((await run(["measurements", "precompute", "--image", join(dir, "absent.raw")])).code).toBe(2);
  });
});
