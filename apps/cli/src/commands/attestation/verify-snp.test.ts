import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testdataPath } from "@asterism/testing";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

const gsg = (f: string) => testdataPath("external", "go-sev-guest", f);
const oak = (f: string) => testdataPath("external", "oak", "genoa", f);
const az = (f: string) => testdataPath("constellation", "internal", "attestation", "snp", "testdata", f);
const aws = (f: string) =>
  testdataPath("constellation", "internal", "attestation", "aws", "snp", "testdata", f);

const tmp = mkdtempSync(join(tmpdir(), "asterism-verify-snp-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
};

async function run(...args: string[]) {
  const io = memoryIo();
  const code = await runCli(rootCommand, ["attestation", "verify-snp", ...args], io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

const AZURE_MEASUREMENT =
  "5677f1de87289e7ad2c7e99c805d0468b1a9ccd83f0d245afa5242d405da4d5725852f8c6550564870e5f3206dfb1841";

describe("asterism attestation verify-snp", () => {
  test("oak Genoa v5 report: valid (exit 0), JSON claims", async () => {
    const r = await run(
      "--report",
      oak("report.bin"),
      "--vcek",
      oak("vcek.der"),
      "--now",
      "2025-10-01T08:00:00Z",
      "--json",
    );
    expect(r.code).toBe(0);
    const body = JSON.parse(r.out);
    expect(body).toMatchObject({
      valid: true,
      claims: { product: "genoa", signer: "vcek", reportVersion: 5 },
    });
  });

  test("Azure V1 with --allow-trailing, chain, product, measurement: valid", async () => {
    const r = await run(
      "--report",
      az("attestation.bin"),
      "--vcek",
      az("vcek.pem"),
      "--chain",
      az("certchain.pem"),
      "--product",
      "milan",
      "--measurement",
      AZURE_MEASUREMENT,
      "--allow-trailing",
      "--now",
      "2024-06-01T00:00:00Z",
    );
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toStartWith("valid: milan VCEK report v2");
  });

  test("Azure V1 without --allow-trailing: invalid REPORT_SIZE (exit 1)", async () => {
    const r = await run(
      "--report",
      az("attestation.bin"),
      "--vcek",
      az("vcek.cert"),
      "--now",
      "2024-06-01T00:00:00Z",
      "--json",
    );
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code: "REPORT_SIZE" });
  });

  test("AWS V3 VLEK with --report-data = AKDigest and provisional firmware permitted by policy file", async () => {
    const b64 = await Bun.file(aws("report.txt")).text();
    const report = file("aws-report.bin", Buffer.from(b64.trim(), "base64"));
    const policy = file("policy.json", JSON.stringify({ permitProvisionalFirmware: true, signer: "vlek" }));
    const digest =
      "87ab7caf510e1b3520dc3cceb64ee44128e10976fb0d3fc5e274699d8aaf506154af4c1de0a026b49fdf861e9ac75551551b3534d1c61369a3b08f5baed0db2f";
    const ok = await run(
      "--report",
      report,
      "--vcek",
      aws("vlek.pem"),
      "--chain",
      aws("certchain.pem"),
      "--policy",
      policy,
      "--report-data",
      digest,
      "--now",
      "2025-06-01T00:00:00Z",
      "--json",
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).warnings).toHaveLength(1);
    const bad = await run(
      "--report",
      report,
      "--vcek",
      aws("vlek.pem"),
      "--chain",
      aws("certchain.pem"),
      "--policy",
      policy,
      "--report-data",
      "00".repeat(64),
      "--now",
      "2025-06-01T00:00:00Z",
      "--json",
    );
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.out)).toMatchObject({ valid: false, code: "REPORT_DATA_MISMATCH" });
  });

  test.each([
    {
      name: "debug guest (go-sev-guest vector) under the default policy",
      args: [
        "--report",
        gsg("attestation.bin"),
        "--vcek",
        gsg("vcek.testcer"),
        "--now",
        "2022-09-24T01:00:00Z",
      ],
      code: "DEBUG_ALLOWED",
    },
    {
      name: "expired certificate",
      args: ["--report", oak("report.bin"), "--vcek", oak("vcek.der"), "--now", "2040-01-01T00:00:00Z"],
      code: "CERT_EXPIRED",
    },
    {
      name: "wrong product",
      args: [
        "--report",
        oak("report.bin"),
        "--vcek",
        oak("vcek.der"),
        "--product",
        "milan",
        "--now",
        "2025-10-01T08:00:00Z",
      ],
      code: "PRODUCT_MISMATCH",
    },
    {
      name: "wrong measurement",
      args: [
        "--report",
        oak("report.bin"),
        "--vcek",
        oak("vcek.der"),
        "--measurement",
        "00".repeat(48),
        "--now",
        "2025-10-01T08:00:00Z",
      ],
      code: "MEASUREMENT_MISMATCH",
    },
    {
      name: "tampered report",
      args: [
        "--report",
        testdataPath("external", "virtee-sev", "derived", "report_milan.byte21-xor80.bin"),
        "--vcek",
        testdataPath("external", "virtee-sev", "vcek_milan.der"),
        "--now",
        "2024-01-01T00:00:00Z",
      ],
      code: "REPORT_SIGNATURE_INVALID",
    },
  ])("$name → exit 1, $code", async ({ args, code }) => {
    const r = await run(...args, "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code });
  });

  test.each([
    { name: "missing --vcek", args: ["--report", oak("report.bin")] },
    { name: "unreadable report", args: ["--report", join(tmp, "nope.bin"), "--vcek", oak("vcek.der")] },
    {
      name: "bad --product",
      args: ["--report", oak("report.bin"), "--vcek", oak("vcek.der"), "--product", "rome"],
    },
    {
      name: "short --report-data",
      args: ["--report", oak("report.bin"), "--vcek", oak("vcek.der"), "--report-data", "00"],
    },
    {
      name: "non-hex --measurement",
      args: ["--report", oak("report.bin"), "--vcek", oak("vcek.der"), "--measurement", "zz"],
    },
    {
      name: "bad --now",
      args: ["--report", oak("report.bin"), "--vcek", oak("vcek.der"), "--now", "yesterday"],
    },
    {
      name: "bad policy file",
      args: [
        "--report",
        oak("report.bin"),
        "--vcek",
        oak("vcek.der"),
        "--policy",
        file("bad.json", '{"vmpl": 9}'),
      ],
    },
  ])("$name → exit 2", async ({ args }) => {
    expect((await run(...args)).code).toBe(2);
  });
});
