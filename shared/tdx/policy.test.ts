import { beforeAll, describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { readTdxVector, TDX_VECTOR } from "@asterism/testing";
import { expectCode } from "./_test-util.ts";
import { TdxPolicyError } from "./errors.ts";
import {
  clusterIdRtmr2,
  INTEL_QE_VENDOR_ID,
  parseTdxPolicy,
  type TdxPolicy,
  validateQuote,
} from "./policy.ts";
import { parseQuote, type TdxQuote } from "./quote.ts";

/** Good values of the SPR_E4 quote (VECTORS.md §2.1, tools/check/check_test.go and validate_test.go). */
const GOOD: TdxPolicy = {
  qeVendorId: INTEL_QE_VENDOR_ID,
  minimumQeSvn: 0,
  minimumPceSvn: 0,
  minimumTeeTcbSvn: "03000400000000000000000000000000",
  mrSeam: "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656",
  tdAttributes: "0000004000000000",
  xfam: "e71a060000000000",
  mrTd: "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
  mrConfigId: "00".repeat(48),
  mrOwner: "00".repeat(48),
  mrOwnerConfig: "00".repeat(48),
  rtmr0: "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
  rtmr1: "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61",
  rtmr2: "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e",
  rtmr3: "00".repeat(48),
  reportData:
    "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113",
};

const lastChanged = (h: string) => `${h.slice(0, -2)}${h.endsWith("00") ? "01" : "00"}`;

let quote: TdxQuote;
beforeAll(async () => {
  quote = parseQuote(await readTdxVector(TDX_VECTOR.v4.quote));
});

describe("validateQuote: the source-stated field table on SPR_E4", () => {
  test("every good value passes together", () => {
    validateQuote(quote, parseTdxPolicy(GOOD));
  });

  test("an empty policy passes (every field: absent = not checked; debug still forbidden)", () => {
    validateQuote(quote, parseTdxPolicy({}));
  });

  test.each([
    { name: "qe_vendor_id 00…01", bad: { qeVendorId: `${"00".repeat(15)}01` }, code: "QE_VENDOR_MISMATCH" },
    { name: "minimum QE SVN 2", bad: { minimumQeSvn: 2 }, code: "SVN_TOO_LOW" },
    { name: "minimum PCE SVN 2", bad: { minimumPceSvn: 2 }, code: "SVN_TOO_LOW" },
    {
      name: "minimum TEE TCB SVN 04000400…",
      bad: { minimumTeeTcbSvn: `04000400${"00".repeat(12)}` },
      code: "SVN_TOO_LOW",
    },
    {
      name: "mr_seam last byte changed",
      bad: { mrSeam: lastChanged(GOOD.mrSeam ?? "") },
      code: "MEASUREMENT_MISMATCH",
    },
    {
      name: "td_attributes 0000004000000011",
      bad: { tdAttributes: "0000004000000011" },
      code: "ATTRIBUTES_MISMATCH",
    },
    { name: "xfam changed", bad: { xfam: "e71a060000000001" }, code: "ATTRIBUTES_MISMATCH" },
    { name: "mr_td changed", bad: { mrTd: lastChanged(GOOD.mrTd ?? "") }, code: "MEASUREMENT_MISMATCH" },
    {
      name: "mr_config_id non-zero",
      bad: { mrConfigId: `${"00".repeat(47)}01` },
      code: "MEASUREMENT_MISMATCH",
    },
    { name: "mr_owner non-zero", bad: { mrOwner: `${"00".repeat(47)}01` }, code: "MEASUREMENT_MISMATCH" },
    {
      name: "mr_owner_config non-zero",
      bad: { mrOwnerConfig: `${"00".repeat(47)}01` },
      code: "MEASUREMENT_MISMATCH",
    },
    { name: "all-zero RTMR0", bad: { rtmr0: "00".repeat(48) }, code: "MEASUREMENT_MISMATCH" },
    { name: "all-zero RTMR1", bad: { rtmr1: "00".repeat(48) }, code: "MEASUREMENT_MISMATCH" },
    {
      name: "all-zero RTMR2 (cluster ID slot)",
      bad: { rtmr2: "00".repeat(48) },
      code: "MEASUREMENT_MISMATCH",
    },
    { name: "RTMR3 non-zero", bad: { rtmr3: `${"00".repeat(47)}01` }, code: "MEASUREMENT_MISMATCH" },
    {
      name: "report_data last byte changed",
      bad: { reportData: lastChanged(GOOD.reportData ?? "") },
      code: "REPORT_DATA_MISMATCH",
    },
  ])("bad $name → $code", async ({ bad, code }) => {
    await expectCode(() => validateQuote(quote, parseTdxPolicy({ ...GOOD, ...bad })), TdxPolicyError, code);
  });

  test("a quote with TD_ATTRIBUTES.DEBUG set is rejected unless debug is allowed", async () => {
    const tdAttributes = quote.body.tdAttributes.slice();
    tdAttributes[0] = (tdAttributes[0] ?? 0) | 1;
    const debugQuote: TdxQuote = { ...quote, body: { ...quote.body, tdAttributes } };
    await expectCode(() => validateQuote(debugQuote, {}), TdxPolicyError, "DEBUG_FORBIDDEN");
    validateQuote(debugQuote, { allowDebug: true });
  });
});

describe("parseTdxPolicy", () => {
  test.each([
    { name: "65-byte report data", p: { reportData: "00".repeat(65) } },
    { name: "63-byte report data", p: { reportData: "00".repeat(63) } },
    { name: "non-hex report data", p: { reportData: "zz".repeat(64) } },
    { name: "47-byte MRTD", p: { mrTd: "00".repeat(47) } },
    { name: "negative minimum SVN", p: { minimumQeSvn: -1 } },
    { name: "unknown field", p: { mrtd: "00".repeat(48) } },
  ])("$name → POLICY_INVALID", async ({ p }) => {
    await expectCode(() => parseTdxPolicy(p), TdxPolicyError, "POLICY_INVALID");
  });
});

test("clusterIdRtmr2 = SHA-384(0⁴⁸ ‖ SHA-384(clusterID))", async () => {
  const id = new Uint8Array(32).fill(7);
  const inner = new Uint8Array(await crypto.subtle.digest("SHA-384", id));
  const joined = new Uint8Array(96);
  joined.set(inner, 48);
  expect(toHex(await clusterIdRtmr2(id))).toBe(
    toHex(new Uint8Array(await crypto.subtle.digest("SHA-384", joined))),
  );
});
