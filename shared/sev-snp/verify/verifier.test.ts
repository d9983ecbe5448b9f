import { describe, expect, test } from "bun:test";
import { certificatesFromPemOrDer, parseCertificate, toPem, verifyIssuedBy } from "@asterism/pki";
import { parseReport } from "../abi/report.ts";
import { SnpParseError, SnpVerifyError, type SnpVerifyErrorCode } from "../errors.ts";
import { thrown, vectors } from "../vectors.test-helper.ts";
import { parseAmdEndorsementKey } from "./amd-cert.ts";
import { ARK_GENOA_PEM } from "./amd-roots.ts";
import { createSnpVerifier, type SnpEvidence, type SnpVerifyOptions } from "./verifier.ts";

const verifier = createSnpVerifier();

async function expectVerifyCode(
  evidence: SnpEvidence,
  opts: SnpVerifyOptions,
  code: SnpVerifyErrorCode,
): Promise<void> {
  const e = await thrown(() => verifier.verify(evidence, opts));
  expect(e).toBeInstanceOf(SnpVerifyError);
  expect((e as SnpVerifyError).code).toBe(code);
}

function patch(bytes: Uint8Array, at: number, ...values: number[]): Uint8Array {
  const m = bytes.slice();
  m.set(values, at);
  return m;
}

const enc = (s: string) => new TextEncoder().encode(s);

describe("valid vectors verify (external VECTORS.md §1, constellation VECTORS.md V1/V3)", () => {
  test("go-sev-guest Milan: VCEK → ASK → ARK, product milan", async () => {
    const v = await verifier.verify(
      {
        report: await vectors.gsg.report(),
        endorsementKey: await vectors.gsg.vcek(),
        chain: await vectors.gsg.chain(),
      },
      { now: vectors.gsg.now, product: "milan" },
    );
    expect(v.product).toBe("milan");
    expect(v.signer).toBe("vcek");
    expect(v.chain).toEqual(["SEV-VCEK", "SEV-Milan", "ARK-Milan"]);
    expect(v.endorsementKey.productName).toBe("Milan-B0");
    expect(v.endorsementKey.tcb).toEqual({ bootloader: 2, tee: 0, snp: 5, microcode: 68 });
  });

  test("go-sev-guest Milan without --chain uses the built-in Milan ASK", async () => {
    const v = await verifier.verify(
      { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() },
      { now: vectors.gsg.now },
    );
    expect(v.product).toBe("milan"); // from the VCEK's productName (v2 report has no CPUID)
  });

  test("virtee Milan (milan_report, milan_chain)", async () => {
    const v = await verifier.verify(
      {
        report: await vectors.virtee.report(),
        endorsementKey: await vectors.virtee.vcek(),
        chain: await vectors.virtee.chain(),
      },
      { now: vectors.virtee.now },
    );
    expect(v.endorsementKey.tcb).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
  });

  test("oak Genoa v5 report at 2025-10-01T08:00:00Z (built-in Genoa roots)", async () => {
    const v = await verifier.verify(
      { report: await vectors.oak.report(), endorsementKey: await vectors.oak.vcek() },
      { now: vectors.oak.now },
    );
    expect(v.product).toBe("genoa");
    expect(v.report.version).toBe(5);
    expect(v.tcb.launch).toEqual({ bootloader: 10, tee: 0, snp: 25, microcode: 84 });
  });

  test.each([
    { name: "vcek.pem (THIM PEM form)", key: vectors.azure.vcekPem },
    { name: "vcek.cert (KDS DER form)", key: vectors.azure.vcekDer },
  ])("V1 Azure report with $name and certchain.pem", async ({ key }) => {
    const report = parseReport(await vectors.azure.report(), { allowTrailing: true });
    const v = await verifier.verify(
      { report, endorsementKey: await key(), chain: await vectors.azure.chain() },
      { now: vectors.azure.now, product: "milan" },
    );
    expect(v.endorsementKey.tcb).toEqual({ bootloader: 2, tee: 0, snp: 6, microcode: 93 });
    expect(v.endorsementKey.hwId).toEqual(report.chipId);
  });

  test("V3 AWS v3 VLEK report at its pinned time: ASVK slot, CSP id", async () => {
    const v = await verifier.verify(
      {
        report: await vectors.aws.report(),
        endorsementKey: await vectors.aws.vlek(),
        chain: await vectors.aws.chain(),
      },
      { now: vectors.aws.now },
    );
    expect(v.signer).toBe("vlek");
    expect(v.product).toBe("milan"); // CPUID 19h/01h
    expect(v.chain).toEqual(["SEV-VLEK", "SEV-VLEK-Milan", "ARK-Milan"]);
    expect(v.endorsementKey.cspId).toBe("CN=cc-eu-west-1.amazonaws.com");
  });

  test("Turin VCEK verifies against the Turin chain (turin_ca_stack) and decodes fmcSPL + 8-byte hwID", async () => {
    const [vcek] = certificatesFromPemOrDer(await vectors.virtee.vcekTurin()).map(parseCertificate);
    const [ask, ark] = certificatesFromPemOrDer(await vectors.virtee.chainTurin()).map(parseCertificate);
    if (!vcek || !ask || !ark) throw new Error("vector missing");
    await verifyIssuedBy(ark, ark);
    await verifyIssuedBy(ask, ark);
    await verifyIssuedBy(vcek, ask);
    const info = parseAmdEndorsementKey(vcek);
    expect(info).toMatchObject({ kind: "vcek", structVersion: 1, productName: "Turin", product: "turin" });
    expect(info.tcb).toEqual({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 9 });
    expect(Buffer.from(info.hwId ?? []).toString("hex")).toBe("1e550a8ee5cf9f4d");
  });
});

describe("negative vectors fail with the right code", () => {
  test("virtee milan_report_invalid: byte 21 xor 0x80 → REPORT_SIGNATURE_INVALID", async () => {
    await expectVerifyCode(
      {
        report: await vectors.virtee.reportByte21(),
        endorsementKey: await vectors.virtee.vcek(),
        chain: await vectors.virtee.chain(),
      },
      { now: vectors.virtee.now },
      "REPORT_SIGNATURE_INVALID",
    );
  });

  test("virtee milan_chain_invalid: VCEK byte 40 xor 0xff → CERT_INVALID", async () => {
    await expectVerifyCode(
      {
        report: await vectors.virtee.report(),
        endorsementKey: await vectors.virtee.vcekByte40(),
        chain: await vectors.virtee.chain(),
      },
      { now: vectors.virtee.now },
      "CERT_INVALID",
    );
  });

  test("V1: all 512 signature bytes zero → REPORT_SIGNATURE_INVALID", async () => {
    const raw = (await vectors.azure.report()).subarray(0, 0x4a0).slice();
    raw.fill(0, 0x2a0, 0x4a0);
    await expectVerifyCode(
      { report: raw, endorsementKey: await vectors.azure.vcekDer(), chain: await vectors.azure.chain() },
      { now: vectors.azure.now },
      "REPORT_SIGNATURE_INVALID",
    );
  });

  test("V1: certchain.pem byte 1676 (inside the ASK signature) set to 'A' → CHAIN_INVALID", async () => {
    const chain = patch(await vectors.azure.chain(), 1676, 0x41);
    await expectVerifyCode(
      {
        report: (await vectors.azure.report()).subarray(0, 0x4a0),
        endorsementKey: await vectors.azure.vcekDer(),
        chain,
      },
      { now: vectors.azure.now },
      "CHAIN_INVALID",
    );
  });

  test("V1: reported_tcb set to 0 → TCB_MISMATCH", async () => {
    const raw = patch((await vectors.azure.report()).subarray(0, 0x4a0), 0x180, 0, 0, 0, 0, 0, 0, 0, 0);
    await expectVerifyCode(
      { report: raw, endorsementKey: await vectors.azure.vcekDer(), chain: await vectors.azure.chain() },
      { now: vectors.azure.now },
      "TCB_MISMATCH",
    );
  });

  test("V1: report truncated by 100 bytes → parse error REPORT_SIZE", async () => {
    const raw = (await vectors.azure.report()).subarray(0, 0x4a0 - 100);
    const e = await thrown(() =>
      verifier.verify({ report: raw, endorsementKey: new Uint8Array() }, { now: vectors.azure.now }),
    );
    expect(e).toBeInstanceOf(SnpParseError);
    expect((e as SnpParseError).code).toBe("REPORT_SIZE");
  });

  test("V2 VLEK hex report: signer detected as VLEK; signature does not verify with vlek.pem", async () => {
    await expectVerifyCode(
      {
        report: await vectors.vlekHex.report(),
        endorsementKey: await vectors.vlekHex.vlek(),
        chain: await vectors.vlekHex.chain(),
      },
      { now: vectors.vlekHex.now, product: "milan" },
      "REPORT_SIGNATURE_INVALID",
    );
  });

  test("V3 AWS: first signature byte incremented → REPORT_SIGNATURE_INVALID", async () => {
    const r = await vectors.aws.report();
    await expectVerifyCode(
      {
        report: patch(r, 0x2a0, ((r[0x2a0] as number) + 1) & 0xff),
        endorsementKey: await vectors.aws.vlek(),
        chain: await vectors.aws.chain(),
      },
      { now: vectors.aws.now },
      "REPORT_SIGNATURE_INVALID",
    );
  });

  test("V3 AWS after the VLEK expired (2025-12-10) → CERT_EXPIRED", async () => {
    await expectVerifyCode(
      {
        report: await vectors.aws.report(),
        endorsementKey: await vectors.aws.vlek(),
        chain: await vectors.aws.chain(),
      },
      { now: new Date("2026-01-01T00:00:00Z") },
      "CERT_EXPIRED",
    );
  });

  test("VCEK before its notBefore → CERT_NOT_YET_VALID", async () => {
    await expectVerifyCode(
      { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() },
      { now: new Date("2022-01-01T00:00:00Z") },
      "CERT_NOT_YET_VALID",
    );
  });

  test("another product's ARK in a Milan chain is rejected by name (CERT_INVALID), never used", async () => {
    const [ask] = certificatesFromPemOrDer(await vectors.gsg.chain()).map(parseCertificate);
    const genoaArk = parseCertificate(certificatesFromPemOrDer(enc(ARK_GENOA_PEM))[0] as Uint8Array);
    if (!ask) throw new Error("vector missing");
    await expectVerifyCode(
      {
        report: await vectors.gsg.report(),
        endorsementKey: await vectors.gsg.vcek(),
        chain: [ask, genoaArk],
      },
      { now: vectors.gsg.now },
      "CERT_INVALID",
    );
  });

  test("chain supplied with the trusted ARK bytes passes; with a different ARK-Milan → ARK_UNTRUSTED", async () => {
    const [ask, ark] = certificatesFromPemOrDer(await vectors.gsg.chain()).map(parseCertificate);
    if (!ask || !ark) throw new Error("vector missing");
    const ev = { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() };
    await verifier.verify({ ...ev, chain: [ask, ark] }, { now: vectors.gsg.now });
    // Trust a different root for Milan: the chain's genuine ARK-Milan is now "not ours".
    const genoaArk = parseCertificate(certificatesFromPemOrDer(enc(ARK_GENOA_PEM))[0] as Uint8Array);
    const strict = createSnpVerifier({ trustedRoots: { milan: { ark: genoaArk } } });
    const e = await thrown(() => strict.verify({ ...ev, chain: [ask, ark] }, { now: vectors.gsg.now }));
    expect((e as SnpVerifyError).code).toBe("ARK_UNTRUSTED");
    // And without a supplied ARK, the ASK does not chain to the trusted (Genoa) root.
    const e2 = await thrown(() => strict.verify({ ...ev, chain: [ask] }, { now: vectors.gsg.now }));
    expect((e2 as SnpVerifyError).code).toBe("CHAIN_INVALID");
  });

  test("go-sev-guest: expected stepping other than the VCEK's (Milan-B0) → PRODUCT_MISMATCH", async () => {
    const ev = { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() };
    await verifier.verify(ev, { now: vectors.gsg.now, product: "milan", productName: "Milan-B0" });
    await expectVerifyCode(
      ev,
      { now: vectors.gsg.now, product: "milan", productName: "Milan-B1" },
      "PRODUCT_MISMATCH",
    );
  });

  test("expected product differs from the certificate → PRODUCT_MISMATCH", async () => {
    await expectVerifyCode(
      { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() },
      { now: vectors.gsg.now, product: "genoa" },
      "PRODUCT_MISMATCH",
    );
    await expectVerifyCode(
      { report: await vectors.oak.report(), endorsementKey: await vectors.oak.vcek() },
      { now: vectors.oak.now, product: "milan" },
      "PRODUCT_MISMATCH",
    );
  });

  test("VLEK report with a VCEK → SIGNER_MISMATCH; VCEK report with VLEK chain → SIGNER_MISMATCH", async () => {
    await expectVerifyCode(
      { report: await vectors.aws.report(), endorsementKey: await vectors.gsg.vcek() },
      { now: vectors.aws.now },
      "SIGNER_MISMATCH",
    );
    await expectVerifyCode(
      {
        report: await vectors.gsg.report(),
        endorsementKey: await vectors.gsg.vcek(),
        chain: await vectors.aws.chain(),
      },
      { now: vectors.gsg.now },
      "SIGNER_MISMATCH",
    );
  });

  test("chip_id changed → HWID_MISMATCH (VCEK is bound to its chip)", async () => {
    const r = await vectors.gsg.report();
    await expectVerifyCode(
      {
        report: patch(r, 0x1df, ((r[0x1df] as number) ^ 1) & 0xff),
        endorsementKey: await vectors.gsg.vcek(),
      },
      { now: vectors.gsg.now },
      "HWID_MISMATCH",
    );
  });

  test.each([
    { name: "none (7)", key: 7, code: "SIGNER_UNSUPPORTED" as const },
    { name: "reserved (2)", key: 2, code: "SIGNER_UNSUPPORTED" as const },
  ])("SIGNING_KEY $name → $code", async ({ key, code }) => {
    const r = await vectors.gsg.report();
    await expectVerifyCode(
      { report: patch(r, 0x48, key << 2), endorsementKey: await vectors.gsg.vcek() },
      { now: vectors.gsg.now },
      code,
    );
  });

  test("SIGNATURE_ALGO 2 → UNSUPPORTED_SIGNATURE_ALGO", async () => {
    await expectVerifyCode(
      { report: patch(await vectors.gsg.report(), 0x34, 2), endorsementKey: await vectors.gsg.vcek() },
      { now: vectors.gsg.now },
      "UNSUPPORTED_SIGNATURE_ALGO",
    );
  });

  test("chain with three certificates or a foreign CN → CERT_INVALID; garbage CRL → CRL_INVALID", async () => {
    const chain = await vectors.gsg.chain();
    const three = new Uint8Array([...chain, ...enc("\n"), ...chain.subarray(0, chain.length)]);
    await expectVerifyCode(
      { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek(), chain: three },
      { now: vectors.gsg.now },
      "CERT_INVALID",
    );
    const foreign = enc(toPem("CERTIFICATE", await vectors.oak.vcek()));
    await expectVerifyCode(
      { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek(), chain: foreign },
      { now: vectors.gsg.now },
      "CERT_INVALID",
    );
    await expectVerifyCode(
      { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() },
      { now: vectors.gsg.now, crl: new Uint8Array([0x30, 0x00]) },
      "CRL_INVALID",
    );
  });

  test("the cache never remembers a failure and re-checks validity each call", async () => {
    const v = createSnpVerifier();
    const ev = { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() };
    await v.verify(ev, { now: vectors.gsg.now });
    const e = await thrown(() => v.verify(ev, { now: new Date("2030-01-01T00:00:00Z") }));
    expect((e as SnpVerifyError).code).toBe("CERT_EXPIRED");
    await v.verify(ev, { now: vectors.gsg.now });
  });
});
