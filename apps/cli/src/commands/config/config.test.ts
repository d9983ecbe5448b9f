import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

const root = mkdtempSync(join(tmpdir(), "asterism-config-cmd-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function run(argv: string[], cwd = root) {
  const io = memoryIo({}, cwd);
  const code = await runCli(rootCommand, argv, io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

describe("asterism config generate / validate", () => {
  test("qemu: config, boot components, valid; refuses to overwrite without --force", async () => {
    const ws = join(root, "q");
    const r = await run(["config", "generate", "qemu", "-C", ws, "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ provider: "qemu", variant: "qemu-vtpm" });
    for (const f of [
      "asterism-conf.yaml",
      "boot/firmware.bin",
      "boot/kernel.efi",
      "boot/initrd.img",
      "boot/cmdline.txt",
    ])
      expect(existsSync(join(ws, f))).toBe(true);
    expect((await run(["config", "validate", "-C", ws])).code).toBe(0);
    const again = await run(["config", "generate", "qemu", "-C", ws]);
    expect(again.code).toBe(2);
    expect(again.err).toContain("Refusing to overwrite");
    // --force replaces the config but keeps the user's boot components.
    writeFileSync(join(ws, "boot/cmdline.txt"), "console=ttyS0 mine\n");
    expect((await run(["config", "generate", "qemu", "-C", ws, "--force"])).code).toBe(0);
    expect(readFileSync(join(ws, "boot/cmdline.txt"), "utf8")).toBe("console=ttyS0 mine\n");
  });

  test("aws: written, and validate lists the values to fill in (exit 1)", async () => {
    const ws = join(root, "a");
    expect((await run(["config", "generate", "aws", "-C", ws])).code).toBe(0);
    const v = await run(["config", "validate", "-C", ws]);
    expect(v.code).toBe(1);
    expect(v.err).toMatch(
      /asterism-conf\.yaml:\d+:\d+: attestation\.measurements\.4\.expected: not filled in/,
    );
    const j = await run(["config", "validate", "-C", ws, "--json"]);
    expect(JSON.parse(j.out)).toMatchObject({ valid: false, code: "CONFIG_INVALID" });
  });

  test.each([
    ["unknown provider", ["config", "generate", "openstack"]],
    ["variant of another provider", ["config", "generate", "gcp", "--variant", "aws-sev-snp"]],
    ["bad count", ["config", "generate", "qemu", "--workers", "many"]],
  ])("%s → exit 2", async (_n, argv) => {
    expect((await run([...argv, "-C", join(root, "u")])).code).toBe(2);
  });

  test("missing config → exit 2 naming the generate command", async () => {
    const r = await run(["config", "validate", "-C", join(root, "none")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("asterism config generate");
  });
});
