import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testdataPath } from "@asterism/testing";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-meas-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]) {
  const io = memoryIo();
  const code = await runCli(rootCommand, argv, io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

const v = (f: string) => testdataPath("constellation", "extracted", f);
const signedArgs = (over: Record<string, string> = {}) => {
  const a: Record<string, string> = {
    file: v("measurements-signed-v1.0.0-test.json"),
    sig: v("measurements-signed-v1.0.0-test.json.sig"),
    key: v("measurements-signing-key.pub.pem"),
    version: "v1.0.0-test",
    ref: "-",
    stream: "stable",
    csp: "Unknown",
    variant: "dummy",
    ...over,
  };
  return ["measurements", "verify", ...Object.entries(a).flatMap(([k, x]) => [`--${k}`, x])];
};

describe("asterism measurements verify (VECTORS.md V9)", () => {
  test("valid file → exit 0 with PCR 0 enforced", async () => {
    const r = await run([...signedArgs(), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      valid: true,
      measurements: { "0": { expected: "00".repeat(32), warnOnly: false } },
    });
  });
  test.each([
    ["wrong CSP", { csp: "GCP" }, "NO_MATCHING_ENTRY"],
    ["wrong image version", { version: "v1.0.0-another-image" }, "IMAGE_MISMATCH"],
  ])("%s → exit 1 with code", async (_n, over, code) => {
    const r = await run([...signedArgs(over), "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code });
  });
  test("bad signature → exit 1 SIGNATURE_INVALID", async () => {
    const sig = join(dir, "bad.sig");
    writeFileSync(
      sig,
      "MEUCIQCGA/lSu5qCJgNNvgMaTKJ9rj6vQMecUDaQo3ukaiAfUgIgWoxXRoDKLY9naN7YgxokM7r2fwnyYk3M2WKJJO1g6yo=",
    );
    const r = await run([...signedArgs({ sig }), "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).code).toBe("SIGNATURE_INVALID");
  });
  test("missing file → exit 2", async () => {
    expect((await run(signedArgs({ file: join(dir, "nope.json") }))).code).toBe(2);
  });
});

describe("asterism measurements merge", () => {
  test("later files override; YAML output sorted numerically", async () => {
    const a = join(dir, "a.json");
    const b = join(dir, "b.yaml");
    writeFileSync(a, JSON.stringify({ "11": "11".repeat(32), "2": "22".repeat(32) }));
    writeFileSync(b, `2:\n  expected: "${"33".repeat(32)}"\n  warnOnly: true\n`);
    const r = await run(["measurements", "merge", a, b]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      "2": { expected: "33".repeat(32), warnOnly: true },
      "11": { expected: "11".repeat(32), warnOnly: false },
    });
    const y = await run(["measurements", "merge", a, b, "--yaml"]);
    expect(y.out.indexOf("2:")).toBeLessThan(y.out.indexOf("11:"));
  });
  test("malformed input → exit 2", async () => {
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ "0": "AQID" }));
    expect((await run(["measurements", "merge", bad])).code).toBe(2);
    expect((await run(["measurements", "merge"])).code).toBe(2);
  });
});
