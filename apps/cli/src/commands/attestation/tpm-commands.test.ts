import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testdataPath } from "@asterism/testing";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

const GCE = (f: string) =>
  testdataPath("external", "go-tpm-tools", "attestations", "decoded", "gce-cos-85-nonce9009", f);
const LOGS = (f: string) => testdataPath("external", "go-tpm-tools", "eventlogs", f);
let dir: string;
let pcrsFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "asterism-cli-tpm-"));
  const pj = (await Bun.file(GCE("quote_sha256.pcrs.json")).json()) as { pcrs: Record<string, string> };
  pcrsFile = join(dir, "pcrs.json");
  await Bun.write(pcrsFile, JSON.stringify({ sha256: pj.pcrs }));
  await Bun.write(join(dir, "ak.pem"), await Bun.file(GCE("ak_pub.pem")).text());
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(...argv: string[]) {
  const io = memoryIo();
  const code = await runCli(rootCommand, ["attestation", ...argv], io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

const quoteArgs = () => [
  "verify-quote",
  "--ak",
  GCE("ak_pub.tpmt_public.bin"),
  "--quote",
  GCE("quote_sha256.attest.bin"),
  "--signature",
  GCE("quote_sha256.sig.bin"),
];

describe("asterism attestation verify-quote", () => {
  test("GCE quote with nonce and PCRs is valid (exit 0)", async () => {
    const r = await run(...quoteArgs(), "--nonce", "9009", "--pcrs", pcrsFile, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      valid: true,
      pcrDigestChecked: true,
      signatureHash: "sha256",
      warnings: [],
    });
  });

  test("AK as PEM works and warns that the attributes are not verifiable", async () => {
    const r = await run(
      ...quoteArgs().slice(0, 1),
      "--ak",
      join(dir, "ak.pem"),
      ...quoteArgs().slice(3),
      "--nonce",
      "9009",
      "--json",
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).warnings.length).toBe(2);
  });

  test.each([
    { name: "wrong nonce", extra: ["--nonce", "9008"], code: "NONCE_MISMATCH" },
    {
      name: "PCRs of another quote",
      extra: ["--nonce", "9009", "--pcrs", "OTHER"],
      code: "PCR_DIGEST_MISMATCH",
    },
  ])("$name → exit 1 with $code", async ({ extra, code }) => {
    const other = join(dir, "other.json");
    const pj = (await Bun.file(GCE("quote_sha256.pcrs.json")).json()) as { pcrs: Record<string, string> };
    await Bun.write(other, JSON.stringify({ sha256: { ...pj.pcrs, "0": "00".repeat(32) } }));
    const r = await run(...quoteArgs(), ...extra.map((x) => (x === "OTHER" ? other : x)), "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code });
  });

  test.each([
    [
      "missing file",
      ["verify-quote", "--ak", "/nonexistent", "--quote", "/nonexistent", "--signature", "/nonexistent"],
    ],
    ["bad nonce hex", [...quoteArgs(), "--nonce", "xyz"]],
  ])("%s → exit 2", async (_, argv) => {
    expect((await run(...argv)).code).toBe(2);
  });
});

describe("asterism attestation replay-eventlog", () => {
  test("replays a crypto-agile log to per-bank JSON", async () => {
    const r = await run("replay-eventlog", "--log", LOGS("cos-85-amd-sev.bin"), "--json");
    expect(r.code).toBe(0);
    const expected = (await Bun.file(LOGS("expected.json")).json())["cos-85-amd-sev.bin"].expected_pcrs;
    const got = JSON.parse(r.out) as Record<string, Record<string, string>>;
    for (const [bank, pcrs] of Object.entries(expected as Record<string, Record<string, string>>))
      for (const [i, v] of Object.entries(pcrs)) expect(got[bank]?.[i]).toBe(v);
  });

  test("text output of the SHA-1 legacy log", async () => {
    const r = await run("replay-eventlog", "--log", LOGS("debian-10.bin"));
    expect(r.code).toBe(0);
    expect(r.out).toContain("sha1 log");
  });

  test("CCEL with padding → RTMRs", async () => {
    const path = testdataPath("external", "go-tdx-guest", "ccel", "ccel_data.dat");
    const r = await run("replay-eventlog", "--log", path, "--ccel", "--allow-padding", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).rtmr["0"]).toStartWith("3fa2f61f395b7f5f");
    const strict = await run("replay-eventlog", "--log", path, "--ccel", "--json");
    expect(strict.code).toBe(1);
    expect(JSON.parse(strict.out)).toMatchObject({ valid: false, code: "TRAILING_DATA" });
  });

  test("a truncated log → exit 1 MALFORMED", async () => {
    const bytes = new Uint8Array(await Bun.file(LOGS("cos-85-amd-sev.bin")).arrayBuffer());
    const p = join(dir, "cut.bin");
    await Bun.write(p, bytes.subarray(0, 1000));
    const r = await run("replay-eventlog", "--log", p, "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code: "MALFORMED" });
  });
});
