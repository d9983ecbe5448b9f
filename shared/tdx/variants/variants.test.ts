import { beforeAll, describe, expect, test } from "bun:test";
import { concat, toBase64, toBase64Url, toHex, utf8 } from "@asterism/bytes";
import {
  createFakeTdx,
  type FakeTdx,
  fakeTdxBody,
  readTdxVector,
  TDX_VECTOR,
  tdxCollateralFixture,
} from "@asterism/testing";
import { sha256 } from "../_internal.ts";
import { expectCode } from "../_test-util.ts";
import type { Collateral } from "../collateral.ts";
import { TdxParseError, TdxPolicyError, TdxVerifyError } from "../errors.ts";
import { createAzureTdxValidator, type VtpmVerification } from "./azure-tdx.ts";
import { createQemuTdxValidator } from "./qemu-tdx.ts";

const NOW = new Date("2025-01-01T00:00:00Z");
const userData = new Uint8Array(32).fill(0x55);
const nonce = new Uint8Array(32).fill(0x99);
let fake: FakeTdx;
let collateral: Collateral;
beforeAll(async () => {
  fake = await createFakeTdx();
  collateral = await fake.collateral();
});

const body = fakeTdxBody();
const expected = {
  "0": toHex(body.mrTd),
  "1": toHex(body.rtmr0),
  "2": toHex(body.rtmr1),
  "3": toHex(body.rtmr2),
  "4": toHex(body.rtmr3),
};

function qemu(measurements: Record<string, string> = expected) {
  return createQemuTdxValidator({
    now: () => NOW,
    root: fake.root,
    getCollateral: async () => collateral,
    measurements,
  });
}

async function qemuDoc(reportData: Uint8Array, over: Partial<typeof body> = {}): Promise<Uint8Array> {
  const quote = await fake.quote(fakeTdxBody({ reportData, ...over }));
  return utf8(JSON.stringify({ RawQuote: toBase64(quote), UserData: toBase64(userData) }));
}
const bound = async () => concat(await sha256(concat(userData, nonce)), new Uint8Array(32));

describe("qemu-tdx validator", () => {
  test("REPORTDATA = SHA-256(userData ‖ nonce) ‖ 0³²: claims with MRTD/RTMR measurements", async () => {
    const claims = await qemu().validate(await qemuDoc(await bound()), nonce);
    expect(claims.variant).toBe("qemu-tdx");
    expect(toHex(claims.userData)).toBe(toHex(userData));
    expect(claims.measurements).toEqual({
      0: expected["0"],
      1: expected["1"],
      2: expected["2"],
      3: expected["3"],
      4: expected["4"],
    });
    expect(claims.details["tcbStatus"]).toBe("UpToDate");
  });

  test("another nonce → REPORT_DATA_MISMATCH", async () => {
    await expectCode(
      qemu().validate(await qemuDoc(await bound()), new Uint8Array(32)),
      TdxPolicyError,
      "REPORT_DATA_MISMATCH",
    );
  });

  test("extraData in the upper half instead of zero-padding → REPORT_DATA_MISMATCH", async () => {
    const rd = concat(new Uint8Array(32), await sha256(concat(userData, nonce)));
    await expectCode(qemu().validate(await qemuDoc(rd), nonce), TdxPolicyError, "REPORT_DATA_MISMATCH");
  });

  test("RTMR2 (cluster ID) differs → MEASUREMENT_MISMATCH", async () => {
    const doc = await qemuDoc(await bound(), { rtmr2: new Uint8Array(48).fill(0x77) });
    await expectCode(qemu().validate(doc, nonce), TdxPolicyError, "MEASUREMENT_MISMATCH");
  });

  test("debug TD → DEBUG_FORBIDDEN", async () => {
    const doc = await qemuDoc(await bound(), { tdAttributes: new Uint8Array([1, 0, 0, 0x40, 0, 0, 0, 0]) });
    await expectCode(qemu().validate(doc, nonce), TdxPolicyError, "DEBUG_FORBIDDEN");
  });

  test.each([
    { name: "not JSON", doc: "nope" },
    { name: "missing UserData", doc: '{"RawQuote":"AAAA"}' },
    { name: "extra member", doc: '{"RawQuote":"AAAA","UserData":"","X":1}' },
    { name: "RawQuote not base64", doc: '{"RawQuote":"!!","UserData":""}' },
  ])("$name → DOCUMENT_MALFORMED", async ({ doc }) => {
    await expectCode(qemu().validate(utf8(doc), nonce), TdxParseError, "DOCUMENT_MALFORMED");
  });

  test("the real v4 quote with its real collateral → TCB_LEVEL_NOT_FOUND before any binding check", async () => {
    const real = await tdxCollateralFixture("v4");
    const v = createQemuTdxValidator({
      now: () => TDX_VECTOR.v4.now,
      getCollateral: async () => real,
      measurements: {},
    });
    const doc = utf8(
      JSON.stringify({ RawQuote: toBase64(await readTdxVector(TDX_VECTOR.v4.quote)), UserData: "" }),
    );
    await expectCode(v.validate(doc, nonce), TdxVerifyError, "TCB_LEVEL_NOT_FOUND");
  });
});

describe("azure-tdx validator (vTPM part injected)", () => {
  const akN = new Uint8Array(256).fill(0xa5);
  const runtime = utf8(
    JSON.stringify({
      keys: [{ kid: "HCLAkPub", kty: "RSA", n: toBase64Url(akN), e: "AQAB" }],
      "vm-configuration": {},
    }),
  );
  async function azure(ak = { n: akN, e: 0 }) {
    const rd = concat(await sha256(runtime), new Uint8Array(32));
    const instanceInfo = utf8(
      JSON.stringify({
        AttestationReport: toBase64(await fake.quote(fakeTdxBody({ reportData: rd }))),
        RuntimeData: toBase64(runtime),
      }),
    );
    const vtpm: VtpmVerification = { ak, instanceInfo, userData, pcrs: { 15: "00".repeat(32) } };
    return createAzureTdxValidator({
      now: () => NOW,
      root: fake.root,
      getCollateral: async () => collateral,
      measurements: { "0": expected["0"] },
      verifyVtpm: async () => vtpm,
    });
  }

  test("runtime data bound by REPORTDATA[0:32] and carrying the AK → claims", async () => {
    const claims = await (await azure()).validate(new Uint8Array(), nonce);
    expect(claims.variant).toBe("azure-tdx");
    expect(claims.measurements[0]).toBe(expected["0"]);
    expect(claims.details["vtpmPcrs"]).toEqual({ 15: "00".repeat(32) });
  });

  test("exponent 65537 given explicitly matches too", async () => {
    await (await azure({ n: akN, e: 65537 })).validate(new Uint8Array(), nonce);
  });

  test("a different AK → REPORT_DATA_MISMATCH", async () => {
    const other = new Uint8Array(256).fill(0x5a);
    await expectCode(
      (await azure({ n: other, e: 0 })).validate(new Uint8Array(), nonce),
      TdxPolicyError,
      "REPORT_DATA_MISMATCH",
    );
  });

  test("runtime data not bound by the quote → REPORT_DATA_MISMATCH", async () => {
    const instanceInfo = utf8(
      JSON.stringify({
        AttestationReport: toBase64(await fake.quote(fakeTdxBody())),
        RuntimeData: toBase64(runtime),
      }),
    );
    const v = createAzureTdxValidator({
      now: () => NOW,
      root: fake.root,
      getCollateral: async () => collateral,
      measurements: {},
      verifyVtpm: async () => ({ ak: { n: akN, e: 0 }, instanceInfo, userData, pcrs: {} }),
    });
    await expectCode(v.validate(new Uint8Array(), nonce), TdxPolicyError, "REPORT_DATA_MISMATCH");
  });

  test("vTPM verification failure propagates unchanged", async () => {
    const boom = new TdxVerifyError("QUOTE_SIGNATURE_INVALID", "vTPM quote bad");
    const v = createAzureTdxValidator({
      now: () => NOW,
      getCollateral: async () => collateral,
      measurements: {},
      verifyVtpm: async () => {
        throw boom;
      },
    });
    await expect(v.validate(new Uint8Array(), nonce)).rejects.toBe(boom);
  });
});
