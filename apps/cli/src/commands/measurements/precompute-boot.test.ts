import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../config/load.ts";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

const ws = mkdtempSync(join(tmpdir(), "asterism-precompute-"));
afterAll(() => rmSync(ws, { recursive: true, force: true }));

async function run(argv: string[]) {
  const io = memoryIo({}, ws);
  const code = await runCli(rootCommand, argv, io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

describe("asterism measurements precompute", () => {
  test("from the config's boot components = what config generate wrote", async () => {
    expect((await run(["config", "generate", "qemu"])).code).toBe(0);
    const r = await run(["measurements", "precompute"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(loadConfig(join(ws, "asterism-conf.yaml")).attestation.measurements);
  });

  test("explicit files give the same result", async () => {
    const b = (f: string) => join(ws, "boot", f);
    const r = await run([
      "measurements",
      "precompute",
      "--firmware",
      b("firmware.bin"),
      "--kernel",
      b("kernel.efi"),
      "--initrd",
      b("initrd.img"),
      "--cmdline",
      b("cmdline.txt"),
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(JSON.parse((await run(["measurements", "precompute"])).out));
  });

  test("--update-config after changing a component moves only its PCR and keeps comments", async () => {
    const before = loadConfig(join(ws, "asterism-conf.yaml")).attestation.measurements;
    writeFileSync(join(ws, "boot", "cmdline.txt"), "console=ttyS0 changed\n");
    const r = await run(["measurements", "precompute", "--update-config"]);
    expect(r.code).toBe(0);
    const text = readFileSync(join(ws, "asterism-conf.yaml"), "utf8");
    expect(text).toContain("# Expected PCR values");
    expect(text).toContain("12: # kernel command line");
    const after = loadConfig(join(ws, "asterism-conf.yaml")).attestation.measurements;
    const changed = Object.keys(after).filter((k) => after[k]?.expected !== before[k]?.expected);
    expect(changed).toEqual(["12"]);
  });

  test.each([
    ["only some component files", ["--kernel", "x"]],
    ["missing component file", ["--firmware", "a", "--kernel", "b", "--initrd", "c", "--cmdline", "d"]],
  ])("%s → exit 2", async (_n, extra) => {
    expect((await run(["measurements", "precompute", ...extra])).code).toBe(2);
  });
});
