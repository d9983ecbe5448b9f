import { beforeAll, describe, expect, test } from "bun:test";
import { createFakeTdx, type FakeTdx, fakeTdxBody } from "@asterism/testing";
import { expectCode } from "./_test-util.ts";
import { TdxParseError, TdxVerifyError } from "./errors.ts";
import { verifyQuote } from "./verify.ts";
import { createVerifiedCollateralSource, verifyCollateral } from "./verify-collateral.ts";

const NOW = new Date("2025-01-01T00:00:00Z");
let fake: FakeTdx;
let quote: Uint8Array;
beforeAll(async () => {
  fake = await createFakeTdx();
  quote = await fake.quote(fakeTdxBody());
});

describe("full verification against a fake Intel PKI (every signature real)", () => {
  test("quote + collateral → UpToDate platform and QE", async () => {
    const v = await verifyQuote(quote, { now: NOW, root: fake.root, collateral: await fake.collateral() });
    expect(v.collateralChecked).toBe(true);
    expect(v.tcb?.status).toBe("UpToDate");
    expect(v.qeTcb?.status).toBe("UpToDate");
    expect(v.warnings).toEqual([]);
  });

  test("pre-verified collateral is reused, and its time windows are re-checked", async () => {
    const vc = await verifyCollateral(await fake.collateral(), { root: fake.root, now: NOW });
    await verifyQuote(quote, { now: NOW, root: fake.root, collateral: vc });
    await expectCode(
      verifyQuote(quote, { now: new Date("2031-01-01T00:00:00Z"), root: fake.root, collateral: vc }),
      TdxVerifyError,
      "COLLATERAL_EXPIRED",
    );
  });

  test.each([
    { name: "PCK leaf on the PCK CRL", opts: { revokeLeaf: true }, code: "CERT_REVOKED" },
    { name: "PCK CA on the root CRL", opts: { revokePckCa: true }, code: "CERT_REVOKED" },
    {
      name: "TCB level SWHardeningNeeded (default accepts UpToDate only)",
      opts: { tcbStatus: "SWHardeningNeeded" },
      code: "TCB_STATUS_UNACCEPTABLE",
    },
  ])("$name → $code", async ({ opts, code }) => {
    await expectCode(
      verifyQuote(quote, { now: NOW, root: fake.root, collateral: await fake.collateral(opts) }),
      TdxVerifyError,
      code,
    );
  });

  test("SWHardeningNeeded is accepted when the policy lists it", async () => {
    const v = await verifyQuote(quote, {
      now: NOW,
      root: fake.root,
      collateral: await fake.collateral({ tcbStatus: "SWHardeningNeeded" }),
      acceptedTcbStatuses: ["UpToDate", "SWHardeningNeeded"],
    });
    expect(v.tcb?.status).toBe("SWHardeningNeeded");
  });

  test("collateral of another PKI with the same names → COLLATERAL_SIGNATURE_INVALID (root CRL)", async () => {
    const other = await createFakeTdx();
    await expectCode(
      verifyQuote(quote, { now: NOW, root: fake.root, collateral: await other.collateral() }),
      TdxVerifyError,
      "COLLATERAL_SIGNATURE_INVALID",
    );
  });

  test("the fake quote does not verify under the real Intel root → ROOT_UNTRUSTED", async () => {
    await expectCode(verifyQuote(quote, { now: NOW }), TdxVerifyError, "ROOT_UNTRUSTED");
  });
});

describe("createVerifiedCollateralSource", () => {
  test("verifies once per platform until the earliest nextUpdate, then again", async () => {
    let fetched = 0;
    let now = NOW;
    const source = createVerifiedCollateralSource({
      root: fake.root,
      now: () => now,
      getCollateral: async () => {
        fetched++;
        return fake.collateral();
      },
    });
    const req = { fmspc: "50806f000000", ca: "platform" } as const;
    const a = await source(req);
    expect(await source(req)).toBe(a);
    expect(fetched).toBe(1);
    await verifyQuote(quote, { now, root: fake.root, getCollateral: source });
    expect(fetched).toBe(1);
    now = new Date("2030-01-01T00:00:01Z"); // past every nextUpdate: refetched, and now stale
    await expectCode(source(req), TdxVerifyError, "COLLATERAL_EXPIRED");
    expect(fetched).toBe(2);
  });

  test("failures are not cached", async () => {
    let calls = 0;
    const source = createVerifiedCollateralSource({
      root: fake.root,
      now: () => NOW,
      getCollateral: async () =>
        ++calls === 1
          ? fake
              .collateral({ revokePckCa: false })
              .then((c) => ({ ...c, tcb_info_signature: c.qe_identity_signature }))
          : fake.collateral(),
    });
    const req = { fmspc: "50806f000000", ca: "platform" } as const;
    await expectCode(source(req), TdxParseError, "COLLATERAL_MALFORMED");
    await source(req);
    expect(calls).toBe(2);
  });
});
