import { describe, expect, test } from "bun:test";
import { readTdxVector, TDX_VECTOR, tdxCollateralFixture } from "@asterism/testing";
import { expectCode } from "./_test-util.ts";
import { parseCollateral } from "./collateral.ts";
import { TdxParseError, TdxVerifyError } from "./errors.ts";
import { topLevelMembers } from "./json-member.ts";
import { checkNotRevoked, loadTrustedRoot, parseCrl } from "./pck-chain.ts";
import { verifyQuote } from "./verify.ts";
import { verifyCollateral, verifyTcbInfo } from "./verify-collateral.ts";

const root = loadTrustedRoot();

describe("collateral JSON schema", () => {
  test("the fixture built from the shared files validates", async () => {
    const c = await tdxCollateralFixture("v4");
    expect(parseCollateral(JSON.parse(JSON.stringify(c)))).toEqual(c);
  });

  test.each([
    { name: "missing root_ca_crl", edit: (c: Record<string, unknown>) => delete c["root_ca_crl"] },
    { name: "unknown member", edit: (c: Record<string, unknown>) => (c["extra"] = "x") },
    {
      name: "signature not 64 bytes of hex",
      edit: (c: Record<string, unknown>) => (c["tcb_info_signature"] = "00"),
    },
    { name: "CRL not hex", edit: (c: Record<string, unknown>) => (c["pck_crl"] = "zz") },
    { name: "chain not PEM", edit: (c: Record<string, unknown>) => (c["pck_crl_issuer_chain"] = "abc") },
  ])("$name → COLLATERAL_MALFORMED", async ({ edit }) => {
    const c: Record<string, unknown> = { ...(await tdxCollateralFixture("v4")) };
    edit(c);
    await expectCode(() => parseCollateral(c), TdxParseError, "COLLATERAL_MALFORMED");
  });
});

describe("topLevelMembers (exact signed text)", () => {
  test("returns member text verbatim, whitespace and key order kept", () => {
    const m = topLevelMembers('{ "a" : {"x": [1, "}"], "y":{}} , "b":"s\\"}" }', "t");
    expect(m.get("a")).toBe('{"x": [1, "}"], "y":{}}');
    expect(m.get("b")).toBe('"s\\"}"');
  });
  test.each(['{"a":1,"a":2}', "[1]", "{", '{"a":1}x'])("%p → COLLATERAL_MALFORMED", async (text) => {
    await expectCode(() => topLevelMembers(text, "t"), TdxParseError, "COLLATERAL_MALFORMED");
  });
});

describe("verifyCollateral (TestObtainAndVerifyCollateral)", () => {
  test("v4 collateral verifies at 2023-07-01T01:00:00Z (signed by Intel SGX TCB Signing)", async () => {
    const v = await verifyCollateral(await tdxCollateralFixture("v4"), { root, now: TDX_VECTOR.v4.now });
    expect(v.tcbInfo.fmspc).toBe("50806f000000");
    expect(v.qeIdentity.id).toBe("TD_QE");
    expect(v.warnings).toEqual([]);
  });

  test("at 2053-07-01 → COLLATERAL_EXPIRED (TestNegativeObtainAndVerifyCollateral)", async () => {
    await expectCode(
      verifyCollateral(await tdxCollateralFixture("v4"), { root, now: TDX_VECTOR.future }),
      TdxVerifyError,
      "COLLATERAL_EXPIRED",
    );
  });

  test("tcbInfo past nextUpdate alone (CRLs still current) → COLLATERAL_EXPIRED", async () => {
    await expectCode(
      verifyCollateral(await tdxCollateralFixture("v4"), { root, now: new Date("2023-07-20T00:00:00Z") }),
      TdxVerifyError,
      "COLLATERAL_EXPIRED",
    );
  });

  test("one character of the signed tcbInfo text changed → COLLATERAL_SIGNATURE_INVALID", async () => {
    const c = await tdxCollateralFixture("v4");
    const tampered = {
      ...c,
      tcb_info: c.tcb_info.replace('"tcbEvaluationDataNumber":15', '"tcbEvaluationDataNumber":16'),
    };
    await expectCode(
      verifyCollateral(tampered, { root, now: TDX_VECTOR.v4.now }),
      TdxVerifyError,
      "COLLATERAL_SIGNATURE_INVALID",
    );
  });

  test("QE identity signature swapped for the TCB info's → COLLATERAL_MALFORMED (differs from body)", async () => {
    const c = await tdxCollateralFixture("v4");
    await expectCode(
      verifyCollateral(
        { ...c, qe_identity_signature: c.tcb_info_signature },
        { root, now: TDX_VECTOR.v4.now },
      ),
      TdxParseError,
      "COLLATERAL_MALFORMED",
    );
  });

  test("signature field without an embedded one still has to verify → COLLATERAL_SIGNATURE_INVALID", async () => {
    const c = await tdxCollateralFixture("v4");
    const members = topLevelMembers(c.qe_identity, "qe");
    const body = `{"enclaveIdentity":${members.get("enclaveIdentity")}}`;
    await verifyCollateral({ ...c, qe_identity: body }, { root, now: TDX_VECTOR.v4.now });
    await expectCode(
      verifyCollateral(
        { ...c, qe_identity: body, qe_identity_signature: c.tcb_info_signature },
        { root, now: TDX_VECTOR.v4.now },
      ),
      TdxVerifyError,
      "COLLATERAL_SIGNATURE_INVALID",
    );
  });

  test("PCK CRL issuer chain that does not reach the root → COLLATERAL_CHAIN_INVALID", async () => {
    const c = await tdxCollateralFixture("v4");
    const pckCa = c.pck_crl_issuer_chain.slice(
      0,
      c.pck_crl_issuer_chain.indexOf("-----END CERTIFICATE-----") + 25,
    );
    const tcbSigner = c.tcb_info_issuer_chain.slice(
      0,
      c.tcb_info_issuer_chain.indexOf("-----END CERTIFICATE-----") + 25,
    );
    await expectCode(
      verifyCollateral(
        { ...c, pck_crl_issuer_chain: `${pckCa}\n${tcbSigner}\n` },
        { root, now: TDX_VECTOR.v4.now },
      ),
      TdxVerifyError,
      "COLLATERAL_CHAIN_INVALID",
    );
  });

  test("root CRL and PCK CRL swapped → COLLATERAL_MISMATCH (issuer)", async () => {
    const c = await tdxCollateralFixture("v4");
    await expectCode(
      verifyCollateral({ ...c, root_ca_crl: c.pck_crl }, { root, now: TDX_VECTOR.v4.now }),
      TdxVerifyError,
      "COLLATERAL_MISMATCH",
    );
  });

  test("a certificate listed on the CRL → CERT_REVOKED", async () => {
    const crl = parseCrl(await readTdxVector("collateral", "pckcrl"), "PCK CRL");
    const listed = crl.entries[0];
    if (listed === undefined) throw new Error("vector CRL has no entries");
    const fake = { serialNumber: listed.serialNumber, subject: "CN=revoked" } as Parameters<
      typeof checkNotRevoked
    >[1];
    await expectCode(() => checkNotRevoked(crl, fake), TdxVerifyError, "CERT_REVOKED");
  });

  test("the v4 quote with its collateral: not revoked, but no matching TCB level (as shipped)", async () => {
    await expectCode(
      verifyQuote(await readTdxVector(TDX_VECTOR.v4.quote), {
        now: TDX_VECTOR.v4.now,
        collateral: await tdxCollateralFixture("v4"),
      }),
      TdxVerifyError,
      "TCB_LEVEL_NOT_FOUND",
    );
  });
});

describe("v5 TCB info and its expired signing certificate (VECTORS.md §2.1 note)", () => {
  test("strict: the TCB signing certificate expired 2025-05-21 → COLLATERAL_SIGNER_EXPIRED", async () => {
    const c = await tdxCollateralFixture("v5");
    await expectCode(
      verifyTcbInfo(c.tcb_info, c.tcb_info_signature, c.tcb_info_issuer_chain, undefined, {
        root,
        now: TDX_VECTOR.v5.now,
      }),
      TdxVerifyError,
      "COLLATERAL_SIGNER_EXPIRED",
    );
  });

  test("allowExpiredCollateralSigner: the key verifies; the expiry is reported as a warning", async () => {
    const c = await tdxCollateralFixture("v5");
    const r = await verifyTcbInfo(c.tcb_info, c.tcb_info_signature, c.tcb_info_issuer_chain, undefined, {
      root,
      now: TDX_VECTOR.v5.now,
      allowExpiredCollateralSigner: true,
    });
    expect(r.tcbInfo.fmspc).toBe("90c06f000000");
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain("Intel SGX TCB Signing");
  });

  test("allowExpiredCollateralSigner never excuses a bad signature", async () => {
    const c = await tdxCollateralFixture("v5");
    await expectCode(
      verifyTcbInfo(
        c.tcb_info.replace('"tcbType":0', '"tcbType":1'),
        c.tcb_info_signature,
        c.tcb_info_issuer_chain,
        undefined,
        {
          root,
          now: TDX_VECTOR.v5.now,
          allowExpiredCollateralSigner: true,
        },
      ),
      TdxVerifyError,
      "COLLATERAL_SIGNATURE_INVALID",
    );
  });

  test("full v5 collateral at 2026-02-03: the shared QE identity and CRLs are from 2023 → COLLATERAL_EXPIRED", async () => {
    await expectCode(
      verifyQuote(await readTdxVector(TDX_VECTOR.v5.quote), {
        now: TDX_VECTOR.v5.now,
        collateral: await tdxCollateralFixture("v5"),
        allowExpiredCollateralSigner: true,
      }),
      TdxVerifyError,
      "COLLATERAL_EXPIRED",
    );
  });
});
