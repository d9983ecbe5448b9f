import { beforeAll, describe, expect, test } from "bun:test";
import { certificatesFromPemOrDer } from "@asterism/pki";
import { codeOfAsync as codeOf, readTestdata } from "@asterism/testing";
import { verifyAkCertificate } from "./ak-cert.ts";

// external/VECTORS.md §3.1 (go-tpm-tools server/verify_test.go TestValidateAK and friends).
const T = ["external", "go-tpm-tools"] as const;
const NOW = new Date("2024-06-01T00:00:00Z");
let akCert: Uint8Array;
let root1: Uint8Array;
let int2: Uint8Array;
let int3: Uint8Array;
let gcpRoot: Uint8Array;
let gcpInt: Uint8Array;
beforeAll(async () => {
  akCert = await readTestdata(...T, "attestations", "decoded", "gce-cos-85-nonce9009", "ak_cert.der");
  root1 = await readTestdata(...T, "ca-certs", "tpm_ek_root_1.cer");
  int2 = await readTestdata(...T, "ca-certs", "tpm_ek_intermediate_2.crt");
  int3 = await readTestdata(...T, "ca-certs", "tpm_ek_intermediate_3.crt");
  gcpRoot = await readTestdata(...T, "ca-certs", "gcp_ek_ak_ca_root.crt");
  gcpInt = await readTestdata(...T, "ca-certs", "gcp_ek_ak_ca_intermediate_v3.crt");
});

describe("verifyAkCertificate()", () => {
  test("GCE AK cert chains via tpm_ek_intermediate_2 to tpm_ek_root_1", async () => {
    const c = await verifyAkCertificate(akCert, { roots: [root1], intermediates: [int2] }, [], NOW);
    expect(c.subject.attributes).toHaveLength(0); // empty subject, as collected
  });

  test("intermediate carried in the evidence is used (TestVerifyAutomaticallyUsesIntermediatesInAttestation)", async () => {
    expect(await codeOf(verifyAkCertificate(akCert, { roots: [root1] }, [int2], NOW))).toBeUndefined();
  });

  test("uca_* and pca_* certificates chain to their stated roots", async () => {
    const read = async (f: string) =>
      certificatesFromPemOrDer(await readTestdata(...T, "certificates", f))[0] as Uint8Array;
    const uca = await read("uca_tpm_rsa_sign_cert.pem");
    const pca = await read("pca_tpm_ecc_sign_cert.pem");
    expect(
      await codeOf(verifyAkCertificate(uca, { roots: [root1], intermediates: [int3] }, [], NOW)),
    ).toBeUndefined();
    expect(
      await codeOf(verifyAkCertificate(pca, { roots: [gcpRoot], intermediates: [gcpInt] }, [], NOW)),
    ).toBeUndefined();
  });

  const cases: { name: string; run: () => Promise<unknown>; code: string }[] = [
    {
      name: "no roots, no intermediates",
      run: () => verifyAkCertificate(akCert, { roots: [] }, [], NOW),
      code: "AK_UNTRUSTED",
    },
    {
      name: "roots without intermediates",
      run: () => verifyAkCertificate(akCert, { roots: [root1] }, [], NOW),
      code: "AK_CERT_INVALID",
    },
    {
      name: "intermediates without roots",
      run: () => verifyAkCertificate(akCert, { roots: [], intermediates: [int2] }, [], NOW),
      code: "AK_UNTRUSTED",
    },
    {
      name: "garbage intermediate in the evidence only",
      run: () =>
        verifyAkCertificate(
          akCert,
          { roots: [root1] },
          [new TextEncoder().encode("Not an intermediate cert.")],
          NOW,
        ),
      code: "AK_CERT_INVALID",
    },
    {
      name: "unrelated root (Google EK/AK CA Root)",
      run: () => verifyAkCertificate(akCert, { roots: [gcpRoot], intermediates: [int2] }, [], NOW),
      code: "AK_CERT_INVALID",
    },
    {
      name: "wrong intermediate (3 instead of 2)",
      run: () => verifyAkCertificate(akCert, { roots: [root1], intermediates: [int3] }, [], NOW),
      code: "AK_CERT_INVALID",
    },
    {
      name: "AK cert expired (2052)",
      run: () =>
        verifyAkCertificate(
          akCert,
          { roots: [root1], intermediates: [int2] },
          [],
          new Date("2052-01-01T00:00:00Z"),
        ),
      code: "AK_CERT_INVALID",
    },
    {
      name: "AK cert not yet valid (2020)",
      run: () =>
        verifyAkCertificate(
          akCert,
          { roots: [root1], intermediates: [int2] },
          [],
          new Date("2020-01-01T00:00:00Z"),
        ),
      code: "AK_CERT_INVALID",
    },
    {
      name: "tampered AK cert signature",
      run: () => {
        const bad = akCert.slice();
        bad[bad.length - 5] = (bad[bad.length - 5] as number) ^ 0x01;
        return verifyAkCertificate(bad, { roots: [root1], intermediates: [int2] }, [], NOW);
      },
      code: "AK_CERT_INVALID",
    },
    {
      name: "garbage AK cert",
      run: () => verifyAkCertificate(new Uint8Array([0x30, 0x00]), { roots: [root1] }, [], NOW),
      code: "AK_CERT_INVALID",
    },
  ];
  test.each(cases)("$name → $code", async ({ run, code }) => {
    expect(await codeOf(run())).toBe(code);
  });
});
