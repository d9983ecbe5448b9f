import { describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { decode, encode } from "@asterism/codec";
import { readTdxVector, TDX_VECTOR } from "@asterism/testing";
import { TdxParseError } from "./errors.ts";
import { MAX_TRAILING_BYTES, parseQuote } from "./quote.ts";
import { SGX_REPORT_BODY, TD_QUOTE_HEADER_V4, TD_REPORT_BODY_10, TD_REPORT_BODY_15 } from "./structures.ts";

function expectParseCode(f: () => unknown, code: TdxParseError["code"]) {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TdxParseError);
    expect((err as TdxParseError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}, nothing thrown`);
}

function patched(b: Uint8Array, offset: number, value: number): Uint8Array {
  const c = b.slice();
  c[offset] = value;
  return c;
}

describe("parseQuote on the go-tdx-guest vectors (VECTORS.md §2.1)", () => {
  test("SPR_E4 v4 quote: header and TD report body fields", async () => {
    const q = parseQuote(await readTdxVector(TDX_VECTOR.v4.quote));
    expect(q.version).toBe(4);
    expect(q.bodyType).toBe(2);
    expect(q.header.attestationKeyType).toBe(2);
    expect(q.header.teeType).toBe(0x81);
    expect([q.header.qeSvn, q.header.pceSvn]).toEqual([0, 0]);
    expect(toHex(q.header.qeVendorId)).toBe("939a7233f79c4ca9940a0db3957f0607");
    const b = q.body;
    expect(toHex(b.teeTcbSvn)).toBe("03000400000000000000000000000000");
    expect(toHex(b.mrSeam)).toBe(
      "2fd279c16164a93dd5bf373d834328d46008c2b693af9ebb865b08b2ced320c9a89b4869a9fab60fbe9d0c5a5363c656",
    );
    expect(toHex(b.tdAttributes)).toBe("0000004000000000");
    expect(toHex(b.xfam)).toBe("e71a060000000000");
    expect(toHex(b.mrTd)).toBe(
      "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
    );
    expect(toHex(b.rtmr0)).toBe(
      "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
    );
    expect(toHex(b.rtmr3)).toBe("00".repeat(48));
    expect(toHex(b.reportData)).toBe(
      "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113",
    );
    expect(q.qeReport.isvSvn).toBe(4);
    expect(toHex(q.qeReport.mrSigner)).toBe(
      "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5",
    );
    expect(q.qeReport.isvProdId).toBe(2);
    expect(toHex(q.qeReport.attributes)).toBe("1500000000000000e700000000000000");
    expect(q.pckChain).toHaveLength(3);
    expect(q.signedData).toHaveLength(48 + 584);
    // VECTORS.md: 39 bytes of text after the declared signature data, accepted and reported.
    expect(q.trailingBytes).toBe(39);
  });

  test("v5 sample: TDX 1.5 body with TEE_TCB_SVN_2", async () => {
    const q = parseQuote(await readTdxVector(TDX_VECTOR.v5.quote));
    expect(q.version).toBe(5);
    expect(q.bodyType).toBe(3);
    expect(toHex(q.body.teeTcbSvn)).toBe("0b010400000000000000000000000000");
    expect(toHex(q.body.teeTcbSvn2 ?? new Uint8Array())).toBe("0d010400000000000000000000000000");
    expect(toHex(q.body.mrTd)).toBe(
      "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
    );
    expect(toHex(q.body.tdAttributes)).toBe("0000001000000000");
    expect(q.qeReport.isvSvn).toBe(7);
    expect(q.signedData).toHaveLength(48 + 6 + 648);
    expect(q.trailingBytes).toBe(0);
  });

  test("cos-113 quote: 3065 zero bytes after the quote are tolerated", async () => {
    const q = parseQuote(await readTdxVector(TDX_VECTOR.ccel.quote));
    expect(q.version).toBe(4);
    expect(q.trailingBytes).toBe(3065);
  });
});

describe("field tables round-trip", () => {
  test("TD_QUOTE_HEADER_V4 and TD_QUOTE_BODY_1_0 encode back to the same bytes (v4)", async () => {
    const q = await readTdxVector(TDX_VECTOR.v4.quote);
    const header = q.subarray(0, 48);
    const body = q.subarray(48, 48 + 584);
    expect(toHex(encode(TD_QUOTE_HEADER_V4, decode(TD_QUOTE_HEADER_V4, header)))).toBe(toHex(header));
    expect(toHex(encode(TD_REPORT_BODY_10, decode(TD_REPORT_BODY_10, body)))).toBe(toHex(body));
  });

  test("TD_QUOTE_BODY_1_5 and SGX_REPORT_BODY round-trip (v5)", async () => {
    const q = await readTdxVector(TDX_VECTOR.v5.quote);
    const body = q.subarray(54, 54 + 648);
    expect(toHex(encode(TD_REPORT_BODY_15, decode(TD_REPORT_BODY_15, body)))).toBe(toHex(body));
    const parsed = parseQuote(q);
    expect(toHex(encode(SGX_REPORT_BODY, parsed.qeReport))).toBe(toHex(parsed.qeReportRaw));
  });
});

describe("parseQuote rejections", () => {
  // Offsets of the SPR_E4 quote: body at 48, signature data length at 632, data at 636; the QE report
  // starts at 636 + 64 + 64 + 6 = 770.
  const QE = 770;
  test("version 3 (negative vector version-byte.off0x0-set0x3) → UNSUPPORTED_VERSION", async () => {
    const bytes = await readTdxVector("negative", "tdx_prod_quote_SPR_E4.version-byte.off0x0-set0x3.dat");
    expectParseCode(() => parseQuote(bytes), "UNSUPPORTED_VERSION");
    expectParseCode(() => parseQuote(new Uint8Array()), "TRUNCATED");
  });

  test.each([
    { name: "attestation key type 3 (P-384)", off: 2, value: 3, code: "UNSUPPORTED_FORMAT" },
    { name: "TEE type SGX", off: 4, value: 0, code: "UNSUPPORTED_FORMAT" },
    { name: "certification data type 5 at top level", off: 636 + 128, value: 5, code: "UNSUPPORTED_FORMAT" },
    { name: "signature data length beyond the bound", off: 634, value: 0xff, code: "SIZE_LIMIT" },
    { name: "QE report reserved1 non-zero", off: QE + 0x14, value: 1, code: "RESERVED_NONZERO" },
    { name: "QE report reserved2 non-zero", off: QE + 0x60 + 31, value: 1, code: "RESERVED_NONZERO" },
    { name: "QE report reserved3 non-zero", off: QE + 0xa0, value: 1, code: "RESERVED_NONZERO" },
    { name: "QE report reserved4 non-zero", off: QE + 0x106 + 41, value: 1, code: "RESERVED_NONZERO" },
  ] as const)("$name → $code", async ({ off, value, code }) => {
    const bytes = await readTdxVector(TDX_VECTOR.v4.quote);
    expectParseCode(() => parseQuote(patched(bytes, off, value)), code);
  });

  test("every truncation is TRUNCATED or MALFORMED, never another error", async () => {
    const bytes = await readTdxVector(TDX_VECTOR.v4.quote);
    for (const n of [0, 1, 2, 47, 48, 100, 631, 632, 636, 700, 770, 1154, 1258, 4000, 4934]) {
      try {
        parseQuote(bytes.subarray(0, n));
        throw new Error(`length ${n} parsed`);
      } catch (err) {
        expect(err).toBeInstanceOf(TdxParseError);
        expect(["TRUNCATED", "MALFORMED", "SIZE_LIMIT"]).toContain((err as TdxParseError).code);
      }
    }
  });

  test("v5 body descriptor: unknown body type and wrong size", async () => {
    const bytes = await readTdxVector(TDX_VECTOR.v5.quote);
    expectParseCode(() => parseQuote(patched(bytes, 48, 1)), "UNSUPPORTED_FORMAT");
    // size 584 for a type-3 (648-byte) body: the body runs past its declared size
    expectParseCode(() => parseQuote(patched(bytes, 50, 0x48)), "TRUNCATED");
    expectParseCode(() => parseQuote(patched(bytes, 51, 0x03)), "SIZE_LIMIT");
  });

  test(`more than ${MAX_TRAILING_BYTES} trailing bytes → TRAILING_BYTES`, async () => {
    const bytes = await readTdxVector(TDX_VECTOR.v4.quote);
    const big = new Uint8Array(4935 + MAX_TRAILING_BYTES + 1);
    big.set(bytes.subarray(0, 4935));
    expectParseCode(() => parseQuote(big), "TRAILING_BYTES");
    const ok = new Uint8Array(4935 + MAX_TRAILING_BYTES);
    ok.set(bytes.subarray(0, 4935));
    expect(parseQuote(ok).trailingBytes).toBe(MAX_TRAILING_BYTES);
  });

  test("PCK chain text that is not PEM → MALFORMED", async () => {
    const bytes = await readTdxVector(TDX_VECTOR.v4.quote);
    expectParseCode(() => parseQuote(patched(bytes, 1258, "X".charCodeAt(0))), "MALFORMED");
  });
});
