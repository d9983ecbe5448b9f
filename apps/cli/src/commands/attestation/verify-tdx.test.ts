import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "@asterism/bytes";
import {
  createFakeTdx,
  fakeTdxBody,
  TDX_VECTOR,
  tdxCollateralFixture,
  testdataPath,
} from "@asterism/testing";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { rootCommand } from "../index.ts";

/** Collateral JSON files for the v4/v5 vectors (generated here from the shared files) and a fake PKI. */
let dir: string;
const file = (name: string) => join(dir, name);
const v4Quote = () => testdataPath("external", "go-tdx-guest", TDX_VECTOR.v4.quote);
const v5Quote = () => testdataPath("external", "go-tdx-guest", TDX_VECTOR.v5.quote);
const fakeReportData = new Uint8Array(64).fill(0x42);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "asterism-verify-tdx-"));
  await Bun.write(file("v4.json"), JSON.stringify(await tdxCollateralFixture("v4")));
  await Bun.write(file("v5.json"), JSON.stringify(await tdxCollateralFixture("v5")));
  const fake = await createFakeTdx();
  await Bun.write(file("fake-quote.dat"), await fake.quote(fakeTdxBody({ reportData: fakeReportData })));
  await Bun.write(file("fake.json"), JSON.stringify(await fake.collateral()));
  await Bun.write(file("fake-root.pem"), fake.rootPem);
  await Bun.write(file("garbage.json"), "{not json");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]) {
  const io = memoryIo();
  const code = await runCli(rootCommand, ["attestation", "verify-tdx", ...args], io);
  const out = io.out.join("");
  return {
    code,
    out,
    json: args.includes("--json") && out ? (JSON.parse(out) as Record<string, unknown>) : {},
  };
}

describe("asterism attestation verify-tdx: the vectors' stated outcomes", () => {
  test("v4 SPR_E4 at 2023-07-01: exit 1, TCB_LEVEL_NOT_FOUND (no matching TCB level as shipped)", async () => {
    const r = await run([
      "--quote",
      v4Quote(),
      "--collateral",
      file("v4.json"),
      "--now",
      "2023-07-01T01:00:00Z",
      "--json",
    ]);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ valid: false, code: "TCB_LEVEL_NOT_FOUND" });
  });

  test("v4 at 2053-07-01: exit 1, CERT_EXPIRED (PCK leaf)", async () => {
    const r = await run([
      "--quote",
      v4Quote(),
      "--collateral",
      file("v4.json"),
      "--now",
      "2053-07-01T01:00:00Z",
      "--json",
    ]);
    expect(r.json).toMatchObject({ valid: false, code: "CERT_EXPIRED" });
  });

  test.each([
    {
      name: "body byte 0x3c",
      f: "tdx_prod_quote_SPR_E4.td-quote-body-byte.off0x3c-set0x32.dat",
      code: "QUOTE_SIGNATURE_INVALID",
    },
    {
      name: "PCK cert byte",
      f: "tdx_prod_quote_SPR_E4.pck-cert-byte.off0xb77-set0x32.dat",
      code: "PCK_CHAIN_INVALID",
    },
    {
      name: "root cert byte",
      f: "tdx_prod_quote_SPR_E4.root-cert-byte.off0x1329-set0x32.dat",
      code: "PCK_CHAIN_INVALID",
    },
    {
      name: "version 3",
      f: "tdx_prod_quote_SPR_E4.version-byte.off0x0-set0x3.dat",
      code: "UNSUPPORTED_VERSION",
    },
  ])("negative $name: exit 1, $code", async ({ f, code }) => {
    const q = testdataPath("external", "go-tdx-guest", "negative", f);
    const r = await run([
      "--quote",
      q,
      "--collateral",
      file("v4.json"),
      "--now",
      "2023-07-01T01:00:00Z",
      "--json",
    ]);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ valid: false, code });
  });

  test("v5 at 2026-02-03: exit 1, COLLATERAL_EXPIRED (the shared CRLs and QE identity are from 2023)", async () => {
    const r = await run([
      "--quote",
      v5Quote(),
      "--collateral",
      file("v5.json"),
      "--now",
      "2026-02-03T01:00:00Z",
      "--json",
    ]);
    expect(r.code).toBe(1);
    // The root CRL is checked first; the TCB signing certificate's expiry is covered in collateral.test.ts.
    expect(r.json).toMatchObject({ valid: false, code: "COLLATERAL_EXPIRED" });
  });
});

describe("asterism attestation verify-tdx: exit 0 and the report-data binding (fake PKI via --root)", () => {
  const base = () => [
    "--quote",
    file("fake-quote.dat"),
    "--collateral",
    file("fake.json"),
    "--root",
    file("fake-root.pem"),
  ];

  test("valid: exit 0 with the decoded quote", async () => {
    const r = await run([
      ...base(),
      "--now",
      "2025-01-01T00:00:00Z",
      "--report-data",
      toHex(fakeReportData),
      "--json",
    ]);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ valid: true, version: 4, tcbStatus: "UpToDate", qeTcbStatus: "UpToDate" });
    const text = await run([...base(), "--now", "2025-01-01T00:00:00Z"]);
    expect(text.out).toStartWith("valid: TDX quote v4");
  });

  test("other report data: exit 1, REPORT_DATA_MISMATCH", async () => {
    const r = await run([
      ...base(),
      "--now",
      "2025-01-01T00:00:00Z",
      "--report-data",
      "00".repeat(64),
      "--json",
    ]);
    expect(r.json).toMatchObject({ valid: false, code: "REPORT_DATA_MISMATCH" });
  });

  test("without --root the built-in Intel root rejects it: ROOT_UNTRUSTED", async () => {
    const r = await run([
      "--quote",
      file("fake-quote.dat"),
      "--collateral",
      file("fake.json"),
      "--now",
      "2025-01-01T00:00:00Z",
      "--json",
    ]);
    expect(r.json).toMatchObject({ valid: false, code: "ROOT_UNTRUSTED" });
  });

  test("malformed collateral JSON: exit 1, COLLATERAL_MALFORMED", async () => {
    const r = await run(["--quote", v4Quote(), "--collateral", file("garbage.json"), "--json"]);
    expect(r.json).toMatchObject({ valid: false, code: "COLLATERAL_MALFORMED" });
  });
});

describe("asterism attestation verify-tdx: usage errors exit 2", () => {
  test.each([
    { name: "missing --collateral", args: () => ["--quote", v4Quote()] },
    { name: "unreadable quote", args: () => ["--quote", file("nope.dat"), "--collateral", file("v4.json")] },
    {
      name: "report data of 63 bytes",
      args: () => ["--quote", v4Quote(), "--collateral", file("v4.json"), "--report-data", "00".repeat(63)],
    },
    {
      name: "bad --now",
      args: () => ["--quote", v4Quote(), "--collateral", file("v4.json"), "--now", "yesterday"],
    },
    {
      name: "unknown TCB status",
      args: () => ["--quote", v4Quote(), "--collateral", file("v4.json"), "--accept-tcb", "Revoked"],
    },
  ])("$name", async ({ args }) => {
    expect((await run(args())).code).toBe(2);
  });
});
