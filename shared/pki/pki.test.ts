import { describe, expect, test } from "bun:test";
import { buildTestCertificate, buildTestCrl, createTestKey, readTestdata } from "@asterism/testing";
import {
  type Certificate,
  certificatesFromPemOrDer,
  checkNotRevoked,
  checkValidity,
  PkiError,
  type PkiErrorCode,
  parseCertificate,
  parseCrl,
  parsePem,
  toPem,
  verifyCrl,
  verifyIssuedBy,
} from "./index.ts";

async function load(...path: string[]): Promise<Certificate[]> {
  return certificatesFromPemOrDer(await readTestdata(...path)).map(parseCertificate);
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: PkiErrorCode): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(PkiError);
  expect((err as PkiError).code).toBe(code);
}

const CHAINS = [
  ["external", "go-sev-guest", "trust", "ask_ark_milan.pem"],
  ["external", "go-sev-guest", "trust", "ask_ark_milan_vlek.pem"],
  ["external", "go-sev-guest", "trust", "ask_ark_genoa.pem"],
  ["external", "go-sev-guest", "trust", "ask_ark_genoa_vlek.pem"],
  ["external", "go-sev-guest", "trust", "ask_ark_turin_vcek.pem"],
  ["external", "go-sev-guest", "trust", "ask_ark_turin_vlek.pem"],
  ["external", "virtee-sev", "cert_chain_milan"],
  ["external", "virtee-sev", "cert_chain_turin"],
  ["constellation", "internal", "attestation", "snp", "testdata", "certchain.pem"],
  ["constellation", "internal", "attestation", "snp", "testdata", "vlekcertchain.pem"],
];

describe("AMD chains (RSASSA-PSS SHA-384, salt 48)", () => {
  test.each(CHAINS.map((p) => ({ name: p.join("/"), p })))(
    "$name: ARK self-signed, ASK by ARK",
    async ({ p }) => {
      const [ask, ark] = (await load(...p)) as [Certificate, Certificate];
      await verifyIssuedBy(ark, ark);
      await verifyIssuedBy(ask, ark);
      checkValidity(ask, new Date("2025-01-01T00:00:00Z"));
    },
  );

  test("VCEK (ECDSA P-384 key, serial 0) chains to the Milan ASK at 2022-09-24T01:00:00Z", async () => {
    const [vcek] = (await load("external", "go-sev-guest", "vcek.testcer")) as [Certificate];
    const [ask] = (await load("external", "go-sev-guest", "trust", "ask_ark_milan.pem")) as [Certificate];
    expect(vcek.serialNumber).toBe(0n);
    expect(vcek.subject.commonName).toBe("SEV-VCEK");
    await verifyIssuedBy(vcek, ask);
    checkValidity(vcek, new Date("2022-09-24T01:00:00Z"));
  });

  test("mutated VCEK (byte 40 xor 0xff) is rejected before any signature math", async () => {
    // Byte 40 lies in the TBSCertificate's signature AlgorithmIdentifier (the PSS hash OID), so the inner
    // and outer algorithms differ: RFC 5280 §4.1.1.2 makes that a malformed certificate.
    await expectCode(
      load("external", "virtee-sev", "derived", "vcek_milan.byte40-xorff.der"),
      "CERT_INVALID",
    );
  });

  test("a VCEK with a flipped signature bit fails with SIGNATURE_INVALID", async () => {
    const der = (await readTestdata("external", "virtee-sev", "vcek_milan.der")).slice();
    der[der.length - 5] = (der[der.length - 5] as number) ^ 0x01;
    const [ask] = (await load("external", "virtee-sev", "cert_chain_milan")) as [Certificate];
    await expectCode(verifyIssuedBy(parseCertificate(der), ask), "SIGNATURE_INVALID");
  });

  test("ASK under the wrong ARK is ISSUER_MISMATCH; ARK under another root too", async () => {
    const [askMilan] = (await load(...(CHAINS[0] as string[]))) as [Certificate];
    const [, arkGenoa] = (await load(...(CHAINS[2] as string[]))) as [Certificate, Certificate];
    await expectCode(verifyIssuedBy(askMilan, arkGenoa), "ISSUER_MISMATCH");
  });

  test("validity bounds", async () => {
    const [vcek] = (await load("external", "go-sev-guest", "vcek.testcer")) as [Certificate];
    await expectCode(() => checkValidity(vcek, new Date("2022-09-23T00:00:00Z")), "NOT_YET_VALID");
    await expectCode(() => checkValidity(vcek, new Date("2029-09-25T00:00:00Z")), "EXPIRED");
    checkValidity(vcek, vcek.notBefore);
    checkValidity(vcek, vcek.notAfter);
  });
});

describe("PEM", () => {
  const der = new Uint8Array([0x30, 0x00]);
  test("round trip, CRLF accepted", () => {
    const pem = toPem("CERTIFICATE", der);
    expect(parsePem(pem.replaceAll("\n", "\r\n"))[0]?.der).toEqual(der);
  });
  test.each([
    { name: "text before block", text: `hello\n${toPem("CERTIFICATE", der)}` },
    { name: "trailing garbage", text: `${toPem("CERTIFICATE", der)}garbage` },
    { name: "label mismatch", text: "-----BEGIN CERTIFICATE-----\nMAA=\n-----END X509 CRL-----\n" },
    { name: "unterminated", text: "-----BEGIN CERTIFICATE-----\nMAA=\n" },
    { name: "bad base64", text: "-----BEGIN CERTIFICATE-----\nMA*=\n-----END CERTIFICATE-----\n" },
    { name: "empty body", text: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n" },
  ])("$name → PEM_INVALID", async ({ text }) => {
    await expectCode(() => parsePem(text), "PEM_INVALID");
  });
  test("empty input to certificatesFromPemOrDer → PEM_INVALID", async () => {
    await expectCode(() => certificatesFromPemOrDer(new TextEncoder().encode("\n")), "PEM_INVALID");
  });
});

describe("DER strictness", () => {
  test.each([
    { name: "indefinite length", der: [0x30, 0x80, 0x00, 0x00] },
    { name: "non-minimal length", der: [0x30, 0x81, 0x01, 0x05] },
    { name: "truncated", der: [0x30, 0x05, 0x02] },
    { name: "trailing data", der: [0x30, 0x00, 0x00] },
    { name: "high tag number", der: [0x1f, 0x01, 0x00] },
  ])("$name → DER_INVALID", async ({ der }) => {
    await expectCode(() => parseCertificate(new Uint8Array(der)), "DER_INVALID");
  });

  test("certificate with a trailing byte is rejected", async () => {
    const bytes = await readTestdata("external", "go-sev-guest", "vcek.testcer");
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    await expectCode(() => parseCertificate(longer), "DER_INVALID");
  });
});

describe("CRL", () => {
  const now = new Date("2025-06-01T00:00:00Z");
  test("revoked serial → REVOKED; others pass; wrong signer, stale CRL rejected", async () => {
    const key = await createTestKey();
    const otherKey = await createTestKey();
    const at = { notBefore: new Date("2024-01-01T00:00:00Z"), notAfter: new Date("2034-01-01T00:00:00Z") };
    const ca = parseCertificate(
      await buildTestCertificate({
        ...at,
        issuer: "Test-ARK",
        subject: "Test-ARK",
        serial: 1,
        subjectKey: key.spki,
        signer: key,
      }),
    );
    await verifyIssuedBy(ca, ca);
    const leaf = async (serial: number) =>
      parseCertificate(
        await buildTestCertificate({
          ...at,
          issuer: "Test-ARK",
          subject: `leaf-${serial}`,
          serial,
          subjectKey: (await createTestKey()).spki,
          signer: key,
        }),
      );
    const good = await leaf(7);
    const bad = await leaf(9);
    await verifyIssuedBy(good, ca);
    const crlOf = (signer: typeof key, revoked: number[]) =>
      buildTestCrl({
        issuer: "Test-ARK",
        signer,
        revoked,
        thisUpdate: new Date("2025-01-01T00:00:00Z"),
        nextUpdate: new Date("2026-01-01T00:00:00Z"),
      });
    const crl = parseCrl(await crlOf(key, [9, 11]));
    expect(crl.revoked.map((r) => r.serialNumber)).toEqual([9n, 11n]);
    await verifyCrl(crl, ca, now);
    checkNotRevoked(good, crl);
    await expectCode(() => checkNotRevoked(bad, crl), "REVOKED");
    await expectCode(verifyCrl(parseCrl(await crlOf(otherKey, [])), ca, now), "SIGNATURE_INVALID");
    await expectCode(verifyCrl(crl, ca, new Date("2026-02-01T00:00:00Z")), "EXPIRED");
    await expectCode(verifyCrl(crl, ca, new Date("2024-02-01T00:00:00Z")), "NOT_YET_VALID");
    expect(parseCrl(await crlOf(key, [])).revoked).toEqual([]);
  });
});

describe("serial numbers", () => {
  test("zero and negative serials are tolerated (RFC 5280 §4.1.2.2: handle gracefully)", async () => {
    const [build, key] = [buildTestCertificate, createTestKey];
    const k = await key();
    const at = { notBefore: new Date("2024-01-01T00:00:00Z"), notAfter: new Date("2034-01-01T00:00:00Z") };
    const zero = parseCertificate(
      await build({ ...at, issuer: "x", subject: "x", serial: 0, subjectKey: k.spki, signer: k }),
    );
    expect(zero.serialNumber).toBe(0n);
    // Re-encode serial 0 as the negative INTEGER -1 (0xff): same length, so no other byte changes.
    const d = (
      await build({ ...at, issuer: "x", subject: "x", serial: 0x7f, subjectKey: k.spki, signer: k })
    ).slice();
    const i = d.findIndex((b, j) => b === 0x02 && d[j + 1] === 0x01 && d[j + 2] === 0x7f);
    d[i + 2] = 0xff;
    expect(parseCertificate(d).serialNumber).toBe(-1n);
  });
});
