import { describe, expect, test } from "bun:test";
import { codeOfAsync, readTdxVector, TDX_VECTOR, tdxCollateralFixture } from "@asterism/testing";
import type { Collateral } from "./collateral.ts";
import { loadTrustedRoot } from "./pck-chain.ts";
import { verifyQuote } from "./verify.ts";
import { verifyCollateral } from "./verify-collateral.ts";

/**
 * Inputs the long fuzz run found (docs/fuzzing.md, finding 3): a certificate whose EC public key has
 * broken domain parameters parsed, and the lazily decoded key then threw a raw ASN.1 schema error from
 * inside the chain check instead of a coded error.
 */
describe("TDX fuzz regressions", () => {
  test("quote whose embedded PCK chain has byte 4427 set to '0' → MALFORMED (seed -68097060)", async () => {
    const q = (await readTdxVector(TDX_VECTOR.v4.quote)).slice();
    q[4427] = 0x30;
    expect(await codeOfAsync(verifyQuote(q, { now: TDX_VECTOR.v4.now }))).toBe("MALFORMED");
  });

  test("collateral whose TCB-info issuer chain has one character set to '0' → MALFORMED (seed -710025615)", async () => {
    const c = await tdxCollateralFixture("v4");
    const chain = c.tcb_info_issuer_chain;
    const i = 1204637784 % chain.length;
    const mutated: Collateral = { ...c, tcb_info_issuer_chain: `${chain.slice(0, i)}0${chain.slice(i + 1)}` };
    expect(
      await codeOfAsync(verifyCollateral(mutated, { root: loadTrustedRoot(), now: TDX_VECTOR.v4.now })),
    ).toBe("MALFORMED");
  });
});
