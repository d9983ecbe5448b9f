import { describe, expect, test } from "bun:test";
import { createFakeSnpPlatform, INTERMEDIATE_SERIAL } from "@asterism/testing";
import { encodeTcb } from "../abi/tcb.ts";
import { SnpVerifyError, type SnpVerifyErrorCode } from "../errors.ts";
import { parseSnpPolicy } from "../validate/policy.ts";
import { validateSnpReport } from "../validate/validate.ts";
import { thrown } from "../vectors.test-helper.ts";
import { createSnpVerifier } from "./verifier.ts";

// Synthetic platforms cover what no real vector does: Turin reports, v3 Genoa, VLEK on Turin, revocation.
const now = new Date("2025-01-01T00:00:00Z");

describe("synthetic platforms verify end to end", () => {
  test.each([
    { product: "milan", signer: "vcek", version: 2 },
    { product: "milan", signer: "vlek", version: 3 },
    { product: "genoa", signer: "vcek", version: 3 },
    { product: "genoa", signer: "vcek", version: 5 },
    { product: "turin", signer: "vcek", version: 5 },
    { product: "turin", signer: "vlek", version: 5 },
  ] as const)("$product $signer v$version", async ({ product, signer, version }) => {
    const fake = await createFakeSnpPlatform({ product, signer });
    const report = await fake.sign(fake.template(version));
    const v = await createSnpVerifier({ trustedRoots: fake.trustedRoots }).verify(
      { report, endorsementKey: fake.endorsementKey },
      { now, ...(version === 2 ? { product } : {}) },
    );
    expect(v.product).toBe(product);
    expect(v.signer).toBe(signer);
    expect(v.tcb.reported).toEqual(fake.tcb);
    const policy = parseSnpPolicy({ minimumTcb: fake.tcb, minimumLaunchTcb: fake.tcb, product, signer });
    expect(validateSnpReport(v, policy).failures).toEqual([]);
  });
});

describe("synthetic negatives", () => {
  async function code(f: () => Promise<unknown>): Promise<SnpVerifyErrorCode> {
    const e = await thrown(f);
    expect(e).toBeInstanceOf(SnpVerifyError);
    return (e as SnpVerifyError).code;
  }

  test("Turin: the FMC SPL counts — reported fmc differs from the VCEK → TCB_MISMATCH", async () => {
    const fake = await createFakeSnpPlatform({ product: "turin" });
    const fields = fake.template(5);
    const report = await fake.sign({ ...fields, reportedTcb: encodeTcb({ ...fake.tcb, fmc: 0 }, "turin") });
    const verifier = createSnpVerifier({ trustedRoots: fake.trustedRoots });
    expect(await code(() => verifier.verify({ report, endorsementKey: fake.endorsementKey }, { now }))).toBe(
      "TCB_MISMATCH",
    );
  });

  test("Turin: hwID is the first 8 bytes of CHIP_ID", async () => {
    const fake = await createFakeSnpPlatform({ product: "turin" });
    const fields = fake.template(5);
    const chip = fields.chipId.slice();
    chip[7] = (chip[7] as number) ^ 1;
    const report = await fake.sign({ ...fields, chipId: chip });
    const verifier = createSnpVerifier({ trustedRoots: fake.trustedRoots });
    expect(await code(() => verifier.verify({ report, endorsementKey: fake.endorsementKey }, { now }))).toBe(
      "HWID_MISMATCH",
    );
  });

  test("unknown CPU family in a v3 report → PRODUCT_UNKNOWN", async () => {
    const fake = await createFakeSnpPlatform({ product: "genoa" });
    const report = await fake.sign({ ...fake.template(3), cpuidFamId: 0x17 } as never);
    const verifier = createSnpVerifier({ trustedRoots: fake.trustedRoots });
    expect(await code(() => verifier.verify({ report, endorsementKey: fake.endorsementKey }, { now }))).toBe(
      "PRODUCT_UNKNOWN",
    );
  });

  test("CRL from the ARK: ASK listed → CERT_REVOKED; not listed → OK; stale or foreign CRL → CRL_INVALID", async () => {
    const fake = await createFakeSnpPlatform({ product: "milan" });
    const other = await createFakeSnpPlatform({ product: "milan" });
    const report = await fake.sign(fake.template(2));
    const verifier = createSnpVerifier({ trustedRoots: fake.trustedRoots });
    const ev = { report, endorsementKey: fake.endorsementKey };
    const from = new Date("2024-12-01T00:00:00Z");
    const to = new Date("2025-02-01T00:00:00Z");
    const revoked = await fake.crl([INTERMEDIATE_SERIAL], from, to);
    expect(await code(() => verifier.verify(ev, { now, product: "milan", crl: revoked }))).toBe(
      "CERT_REVOKED",
    );
    await verifier.verify(ev, { now, product: "milan", crl: await fake.crl([7n], from, to) });
    const stale = await fake.crl([], from, new Date("2024-12-15T00:00:00Z"));
    expect(await code(() => verifier.verify(ev, { now, product: "milan", crl: stale }))).toBe("CRL_INVALID");
    const foreign = await other.crl([], from, to);
    expect(await code(() => verifier.verify(ev, { now, product: "milan", crl: foreign }))).toBe(
      "CRL_INVALID",
    );
  });

  test("a leaf signed by another platform's ASK → CHAIN_INVALID", async () => {
    const fake = await createFakeSnpPlatform({ product: "genoa" });
    const other = await createFakeSnpPlatform({ product: "genoa" });
    const report = await other.sign(other.template(5));
    const verifier = createSnpVerifier({ trustedRoots: fake.trustedRoots });
    expect(await code(() => verifier.verify({ report, endorsementKey: other.endorsementKey }, { now }))).toBe(
      "CHAIN_INVALID",
    );
  });
});
