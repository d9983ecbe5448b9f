import { describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { createFakeTdx, readTdxVector, readTestdata, TDX_VECTOR } from "@asterism/testing";
import { expectCode } from "./_test-util.ts";
import { TdxVerifyError } from "./errors.ts";
import { createCertCache, loadTrustedRoot } from "./pck-chain.ts";
import { parseQuote } from "./quote.ts";
import { verifyQuote } from "./verify.ts";

describe("verifyQuote without collateral (VECTORS.md §2.1, source-stated)", () => {
  test("SPR_E4 v4 verifies at 2023-07-01T01:00:00Z; PCK extensions decoded", async () => {
    const v = await verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), { now: TDX_VECTOR.v4.now });
    expect(v.collateralChecked).toBe(false);
    expect(v.pck.fmspc).toBe("50806f000000");
    expect(v.pck.pceId).toBe("0000");
    expect(v.pck.pceSvn).toBe(11);
    expect(v.pck.sgxTcbComponents).toEqual([3, 3, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(v.warnings).toEqual(["39 unsigned bytes after the quote's signature data were ignored"]);
  });

  test("v5 sample verifies at 2026-02-03T01:00:00Z", async () => {
    const v = await verifyQuote(await readTdxVector(TDX_VECTOR.v5.quote), { now: TDX_VECTOR.v5.now });
    expect(v.pck.fmspc).toBe("90c06f000000");
    expect(v.pck.sgxTcbComponents.slice(0, 8)).toEqual([4, 4, 2, 2, 4, 1, 0, 5]);
    expect(v.pck.pceSvn).toBe(13);
  });

  test("the built-in root is trusted_root.pem, and --root overrides it", async () => {
    const pem = new TextDecoder().decode(await readTdxVector("trusted_root.pem"));
    const root = loadTrustedRoot(pem);
    expect(root.subject).toBe(loadTrustedRoot().subject);
    await verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), { now: TDX_VECTOR.v4.now, root });
  });

  test("an unrelated root → ROOT_UNTRUSTED", async () => {
    const ark = new TextDecoder().decode(
      await readTestdata("external", "go-sev-guest", "trust", "ask_ark_milan.pem"),
    );
    const arkPem = ark.slice(ark.lastIndexOf("-----BEGIN CERTIFICATE-----"));
    await expectCode(
      verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), {
        now: TDX_VECTOR.v4.now,
        root: loadTrustedRoot(arkPem),
      }),
      TdxVerifyError,
      "ROOT_UNTRUSTED",
    );
  });

  test("at 2053-07-01 the PCK leaf has expired → CERT_EXPIRED", async () => {
    await expectCode(
      verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), { now: TDX_VECTOR.future }),
      TdxVerifyError,
      "CERT_EXPIRED",
    );
  });
});

describe("TestNegativeVerification vectors (negative/*.dat) at 2023-07-01", () => {
  test.each([
    { file: "tdx_prod_quote_SPR_E4.root-cert-byte.off0x1329-set0x32.dat", code: "PCK_CHAIN_INVALID" },
    { file: "tdx_prod_quote_SPR_E4.pck-cert-byte.off0xb77-set0x32.dat", code: "PCK_CHAIN_INVALID" },
    { file: "tdx_prod_quote_SPR_E4.td-quote-body-byte.off0x3c-set0x32.dat", code: "QUOTE_SIGNATURE_INVALID" },
  ])("$file → $code", async ({ file, code }) => {
    await expectCode(
      verifyQuote(await readTdxVector("negative", file), { now: TDX_VECTOR.v4.now }),
      TdxVerifyError,
      code,
    );
  });
});

describe("QE report checks (mutations of SPR_E4)", () => {
  const QE = 770;
  test.each([
    { name: "QE report byte (signed by the PCK key)", off: QE + 0x40, code: "QE_REPORT_SIGNATURE_INVALID" },
    { name: "QE report signature byte", off: QE + 384 + 5, code: "QE_REPORT_SIGNATURE_INVALID" },
    { name: "QE authentication data byte", off: QE + 384 + 64 + 2, code: "QE_REPORT_DATA_MISMATCH" },
    {
      name: "attestation key byte (bound by QE report data)",
      off: 636 + 64 + 3,
      code: "QE_REPORT_DATA_MISMATCH",
    },
    { name: "quote signature byte", off: 636 + 10, code: "QUOTE_SIGNATURE_INVALID" },
    { name: "header user data byte", off: 0x1c, code: "QUOTE_SIGNATURE_INVALID" },
  ])("$name → $code", async ({ off, code }) => {
    const b = (await readTdxVector(TDX_VECTOR.v4.quote)).slice();
    b[off] = (b[off] ?? 0) ^ 0x01;
    await expectCode(verifyQuote(b, { now: TDX_VECTOR.v4.now }), TdxVerifyError, code);
  });

  test("v5 body byte → QUOTE_SIGNATURE_INVALID (the v5 signature covers the body descriptor and body)", async () => {
    const b = (await readTdxVector(TDX_VECTOR.v5.quote)).slice();
    b[54 + 0x88] = (b[54 + 0x88] ?? 0) ^ 0x01;
    await expectCode(verifyQuote(b, { now: TDX_VECTOR.v5.now }), TdxVerifyError, "QUOTE_SIGNATURE_INVALID");
  });
});

describe("CCEL quote cos-113 (VECTORS.md §4.2)", () => {
  test("verifies to the Intel root at a pinned time inside its PCK validity; RTMRs as replayed", async () => {
    const v = await verifyQuote(await readTdxVector(TDX_VECTOR.ccel.quote), { now: TDX_VECTOR.ccel.now });
    expect(v.pck.fmspc).toBe("00806f050000");
    const b = v.quote.body;
    expect(toHex(b.rtmr0)).toBe(
      "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6",
    );
    expect(toHex(b.rtmr1)).toBe(
      "f62dbc072bd5d3f3438b7b35c39a727f5aea2ffc2473f43723953f530daf62504f0a7944aa62c41a86e8a878c2b122c1",
    );
    expect(toHex(b.rtmr2)).toBe(
      "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1",
    );
    expect(toHex(b.rtmr3)).toBe("00".repeat(48));
    expect(toHex(b.reportData)).toBe(toHex(await readTdxVector("ccel", "nonce.dat")));
  });

  test("before its PCK's notBefore (2024-07-02) → CERT_EXPIRED", async () => {
    await expectCode(
      verifyQuote(await readTdxVector(TDX_VECTOR.ccel.quote), { now: new Date("2024-07-01T00:00:00Z") }),
      TdxVerifyError,
      "CERT_EXPIRED",
    );
  });

  test("a parsed quote can be passed instead of bytes", async () => {
    const q = parseQuote(await readTdxVector(TDX_VECTOR.ccel.quote));
    expect((await verifyQuote(q, { now: TDX_VECTOR.ccel.now })).quote).toBe(q);
  });
});

describe("certCache", () => {
  test("hits skip only byte-identical work: expiry, tampering and the root are still checked", async () => {
    const certCache = createCertCache(8);
    const good = await readTdxVector(TDX_VECTOR.v4.quote);
    await verifyQuote(good, { now: TDX_VECTOR.v4.now, certCache });
    expect(certCache.verifiedLinks.size).toBe(3);
    await verifyQuote(good, { now: TDX_VECTOR.v4.now, certCache });
    await expectCode(
      verifyQuote(good, { now: TDX_VECTOR.future, certCache }),
      TdxVerifyError,
      "CERT_EXPIRED",
    );
    const tampered = await readTdxVector(
      "negative",
      "tdx_prod_quote_SPR_E4.pck-cert-byte.off0xb77-set0x32.dat",
    );
    await expectCode(
      verifyQuote(tampered, { now: TDX_VECTOR.v4.now, certCache }),
      TdxVerifyError,
      "PCK_CHAIN_INVALID",
    );
    const fake = await createFakeTdx();
    await expectCode(
      verifyQuote(good, { now: TDX_VECTOR.v4.now, certCache, root: fake.root }),
      TdxVerifyError,
      "ROOT_UNTRUSTED",
    );
  });

  test("is bounded", async () => {
    const certCache = createCertCache(2);
    await verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), { now: TDX_VECTOR.v4.now, certCache });
    await verifyQuote(await readTdxVector(TDX_VECTOR.ccel.quote), { now: TDX_VECTOR.ccel.now, certCache });
    expect(certCache.parsed.size).toBeLessThanOrEqual(2);
    expect(certCache.verifiedLinks.size).toBeLessThanOrEqual(2);
  });
});
