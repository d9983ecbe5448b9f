// Test-only: loads the shared SEV-SNP vectors (external/VECTORS.md §1, constellation/VECTORS.md V1–V3).
import { fromBase64, fromHex } from "@asterism/bytes";
import { readTestdata } from "@asterism/testing";

const C_SNP = ["constellation", "internal", "attestation", "snp", "testdata"];
const C_AWS = ["constellation", "internal", "attestation", "aws", "snp", "testdata"];

export const vectors = {
  gsg: {
    report: () => readTestdata("external", "go-sev-guest", "attestation.bin"),
    vcek: () => readTestdata("external", "go-sev-guest", "vcek.testcer"),
    chain: () => readTestdata("external", "go-sev-guest", "trust", "ask_ark_milan.pem"),
    /** external VECTORS.md §1.1: TestVerifyVcekCert time. */
    now: new Date("2022-09-24T01:00:00Z"),
  },
  virtee: {
    report: () => readTestdata("external", "virtee-sev", "derived", "report_milan.bin"),
    reportHex: async () =>
      fromHex(
        new TextDecoder().decode(await readTestdata("external", "virtee-sev", "report_milan.hex")).trim(),
      ),
    reportByte21: () => readTestdata("external", "virtee-sev", "derived", "report_milan.byte21-xor80.bin"),
    vcek: () => readTestdata("external", "virtee-sev", "vcek_milan.der"),
    vcekByte40: () => readTestdata("external", "virtee-sev", "derived", "vcek_milan.byte40-xorff.der"),
    chain: () => readTestdata("external", "virtee-sev", "cert_chain_milan"),
    vcekTurin: () => readTestdata("external", "virtee-sev", "vcek_turin.der"),
    chainTurin: () => readTestdata("external", "virtee-sev", "cert_chain_turin"),
    /** VCEK valid 2023-04-03 → 2030-04-03. */
    now: new Date("2024-01-01T00:00:00Z"),
  },
  oak: {
    report: () => readTestdata("external", "oak", "genoa", "report.bin"),
    vcek: () => readTestdata("external", "oak", "genoa", "vcek.der"),
    /** external VECTORS.md §1.3: genoa_ask_signs_vcek time. */
    now: new Date("2025-10-01T08:00:00Z"),
  },
  azure: {
    /** 1204 bytes: the report plus 20 bytes of HCL trailer (constellation VECTORS.md V1). */
    report: () => readTestdata(...C_SNP, "attestation.bin"),
    vcekPem: () => readTestdata(...C_SNP, "vcek.pem"),
    vcekDer: () => readTestdata(...C_SNP, "vcek.cert"),
    chain: () => readTestdata(...C_SNP, "certchain.pem"),
    runtimeData: () => readTestdata(...C_SNP, "runtimedata.bin"),
    /** VCEK valid 2023-08-30 → 2030-08-30. */
    now: new Date("2024-06-01T00:00:00Z"),
  },
  vlekHex: {
    report: async () =>
      fromHex(
        new TextDecoder()
          .decode(await readTestdata("constellation", "extracted", "snp-attestation-report-vlek.hex"))
          .trim(),
      ),
    vlek: () => readTestdata(...C_SNP, "vlek.pem"),
    chain: () => readTestdata(...C_SNP, "vlekcertchain.pem"),
    /** vlek.pem expired 2024-07-19. */
    now: new Date("2024-01-01T00:00:00Z"),
  },
  aws: {
    report: async () =>
      fromBase64(new TextDecoder().decode(await readTestdata(...C_AWS, "report.txt")).trim()),
    vlek: () => readTestdata(...C_AWS, "vlek.pem"),
    chain: () => readTestdata(...C_AWS, "certchain.pem"),
    /** VLEK valid 2024-12-10 → 2025-12-10. */
    now: new Date("2025-06-01T00:00:00Z"),
    akDigest:
      "87ab7caf510e1b3520dc3cceb64ee44128e10976fb0d3fc5e274699d8aaf506154af4c1de0a026b49fdf861e9ac75551551b3534d1c61369a3b08f5baed0db2f",
  },
};

/** Run `f` and return the thrown error (or fail the test if nothing was thrown). */
export async function thrown(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error, nothing was thrown");
}
