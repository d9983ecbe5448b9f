import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { concat, fromBase64, fromBase64Url, fromHex } from "@asterism/bytes";
import { parseSnpPolicy } from "@asterism/sev-snp";
import { codeOfAsync as codeOf, readTestdata } from "@asterism/testing";
import { AK_TEMPLATE_RSA_2048, type TPMT_PUBLIC } from "@asterism/tpm";
import { checkSnpReport, type SnpInstanceInfo } from "../vtpm/snp-instance.ts";
import { checkHclAkBinding } from "./snp-vtpm.ts";

// constellation VECTORS.md V1 (Azure, VCEK) and V3 (AWS, VLEK), through the attestation layer's SNP step.
const C_SNP = ["constellation", "internal", "attestation", "snp", "testdata"] as const;
const C_AWS = ["constellation", "internal", "attestation", "aws", "snp", "testdata"] as const;
const AZURE_NOW = new Date("2024-06-01T00:00:00Z");
const AWS_NOW = new Date("2025-06-01T00:00:00Z");
const AZURE_DIGEST =
  "57e229e0ffe5fa92d0faddff6cae0e61c926fc9ef9afd20a8b8cfcf7129db9338cbe5bf3f6987733a2bf65d06dc38fc1";
const CONSTELLATION_DEFAULT_DIGEST =
  "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3";
const AWS_AK_DIGEST =
  "87ab7caf510e1b3520dc3cceb64ee44128e10976fb0d3fc5e274699d8aaf506154af4c1de0a026b49fdf861e9ac75551551b3534d1c61369a3b08f5baed0db2f";

const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

async function azure(): Promise<SnpInstanceInfo & { runtimeData: Uint8Array }> {
  return {
    report: await readTestdata(...C_SNP, "attestation.bin"),
    endorsementKey: await readTestdata(...C_SNP, "vcek.pem"),
    chain: await readTestdata(...C_SNP, "certchain.pem"),
    runtimeData: await readTestdata(...C_SNP, "runtimedata.bin"),
  };
}
async function aws(): Promise<SnpInstanceInfo> {
  return {
    report: fromBase64(new TextDecoder().decode(await readTestdata(...C_AWS, "report.txt")).trim()),
    endorsementKey: await readTestdata(...C_AWS, "vlek.pem"),
    chain: await readTestdata(...C_AWS, "certchain.pem"),
  };
}

const azurePolicy = (over: Record<string, unknown> = {}) =>
  parseSnpPolicy({
    signer: "vcek",
    minimumTcb: { bootloader: 2, tee: 0, snp: 6, microcode: 93 },
    minimumLaunchTcb: { bootloader: 2, tee: 0, snp: 6, microcode: 93 },
    permitProvisionalFirmware: true,
    idKeyDigests: { accepted: [AZURE_DIGEST], enforcement: "equal" },
    measurement:
      "5677f1de87289e7ad2c7e99c805d0468b1a9ccd83f0d245afa5242d405da4d5725852f8c6550564870e5f3206dfb1841",
    ...over,
  });

describe("V1 azure-sev-snp SNP step", () => {
  test("verifies and validates with REPORT_DATA = SHA-256(runtime data) ‖ 0³²", async () => {
    const a = await azure();
    const r = await checkSnpReport(
      a,
      {},
      azurePolicy(),
      concat(sha256(a.runtimeData), new Uint8Array(32)),
      AZURE_NOW,
    );
    expect(r.claims.product).toBe("milan");
    expect(r.claims.chipId).toStartWith("9e44aaef02cfca6f");
    expect(r.warnings).toEqual([]);
  });

  test("Constellation's default ID-key digest: equal fails, warnOnly passes with a warning", async () => {
    const a = await azure();
    const rd = concat(sha256(a.runtimeData), new Uint8Array(32));
    const ids = (enforcement: string) => ({
      idKeyDigests: { accepted: [CONSTELLATION_DEFAULT_DIGEST], enforcement },
    });
    expect(await codeOf(checkSnpReport(a, {}, azurePolicy(ids("equal")), rd, AZURE_NOW))).toBe(
      "ID_KEY_UNTRUSTED",
    );
    const w = await checkSnpReport(a, {}, azurePolicy(ids("warnOnly")), rd, AZURE_NOW);
    expect(w.warnings.length).toBeGreaterThan(0);
  });

  const negatives: { name: string; run: () => Promise<unknown>; code: string }[] = [
    {
      name: "runtime data changed (binding)",
      run: async () => {
        const a = await azure();
        const other = new TextEncoder().encode("{}");
        return checkSnpReport(a, {}, azurePolicy(), concat(sha256(other), new Uint8Array(32)), AZURE_NOW);
      },
      code: "REPORT_DATA_MISMATCH",
    },
    {
      name: "launch measurement not the expected one (Constellation never checked it)",
      run: async () => {
        const a = await azure();
        return checkSnpReport(
          a,
          {},
          azurePolicy({ measurement: "00".repeat(48) }),
          concat(sha256(a.runtimeData), new Uint8Array(32)),
          AZURE_NOW,
        );
      },
      code: "MEASUREMENT_MISMATCH",
    },
    {
      name: "signature zeroed",
      run: async () => {
        const a = await azure();
        const report = a.report.slice();
        report.fill(0, 0x2a0, 0x2a0 + 512);
        return checkSnpReport(
          { ...a, report },
          {},
          azurePolicy(),
          concat(sha256(a.runtimeData), new Uint8Array(32)),
          AZURE_NOW,
        );
      },
      code: "REPORT_SIGNATURE_INVALID",
    },
  ];
  test.each(negatives)("$name → $code", async ({ run, code }) => {
    expect(await codeOf(run())).toBe(code);
  });
});

describe("HCL AK binding (V1 runtime data, VECTORS.md V10)", () => {
  const akWith = (n: Uint8Array, exponent = 0): TPMT_PUBLIC =>
    ({
      ...AK_TEMPLATE_RSA_2048,
      parameters: { ...(AK_TEMPLATE_RSA_2048.parameters as object), exponent },
      unique: n,
    }) as TPMT_PUBLIC;
  const hclN = async () => {
    const rd = JSON.parse(new TextDecoder().decode(await readTestdata(...C_SNP, "runtimedata.bin")));
    return fromBase64Url(rd.keys[0].n as string);
  };

  test("AK with the runtime data's modulus (exponent 0 = 65537) matches", async () => {
    const rd = await readTestdata(...C_SNP, "runtimedata.bin");
    const n = await hclN();
    expect(() => checkHclAkBinding(rd, akWith(n))).not.toThrow();
    expect(() => checkHclAkBinding(rd, akWith(n, 65537))).not.toThrow();
  });
  test.each([
    ["other modulus", async () => akWith((await hclN()).map((b, i) => (i === 5 ? b ^ 1 : b))), "AK_MISMATCH"],
    ["other exponent", async () => akWith(await hclN(), 3), "AK_MISMATCH"],
  ] as const)("%s → %s", async (_n, ak, code) => {
    const rd = await readTestdata(...C_SNP, "runtimedata.bin");
    const k = await ak();
    expect(await codeOf(() => checkHclAkBinding(rd, k))).toBe(code);
  });
  test("runtime data truncated → INVALID_EVIDENCE; no HCLAkPub key → AK_MISMATCH", async () => {
    const rd = await readTestdata(...C_SNP, "runtimedata.bin");
    expect(
      await codeOf(() => checkHclAkBinding(rd.subarray(0, rd.length - 5), akWith(new Uint8Array(256)))),
    ).toBe("INVALID_EVIDENCE");
    const noKey = new TextEncoder().encode(
      JSON.stringify({ keys: [{ kid: "other", kty: "RSA", n: "AQAB", e: "AQAB" }] }),
    );
    expect(await codeOf(() => checkHclAkBinding(noKey, akWith(new Uint8Array(256))))).toBe("AK_MISMATCH");
  });
});

describe("V3 aws-sev-snp SNP step (VLEK)", () => {
  test("validates when REPORT_DATA = the AK digest", async () => {
    const r = await checkSnpReport(
      await aws(),
      {},
      parseSnpPolicy({ signer: "vlek", permitProvisionalFirmware: true }),
      fromHex(AWS_AK_DIGEST),
      AWS_NOW,
    );
    expect(r.claims.signer).toBe("vlek");
    expect(r.claims.reportVersion).toBe(3);
    expect(r.warnings).toContain("SNP launch measurement not checked (policy has none)");
  });
  test("REPORT_DATA of 64 zero bytes expected → REPORT_DATA_MISMATCH", async () => {
    expect(
      await codeOf(
        checkSnpReport(
          await aws(),
          {},
          parseSnpPolicy({ permitProvisionalFirmware: true }),
          new Uint8Array(64),
          AWS_NOW,
        ),
      ),
    ).toBe("REPORT_DATA_MISMATCH");
  });
  test("first signature byte incremented → REPORT_SIGNATURE_INVALID", async () => {
    const a = await aws();
    const report = a.report.slice();
    report[0x2a0] = ((report[0x2a0] as number) + 1) & 0xff;
    expect(
      await codeOf(checkSnpReport({ ...a, report }, {}, parseSnpPolicy({}), fromHex(AWS_AK_DIGEST), AWS_NOW)),
    ).toBe("REPORT_SIGNATURE_INVALID");
  });
  test("VCEK required by policy but VLEK-signed → SIGNER_MISMATCH", async () => {
    expect(
      await codeOf(
        checkSnpReport(await aws(), {}, parseSnpPolicy({ signer: "vcek" }), fromHex(AWS_AK_DIGEST), AWS_NOW),
      ),
    ).toBe("SIGNER_MISMATCH");
  });
  test("VLEK expired at the real clock (2026) → CERT_EXPIRED", async () => {
    expect(
      await codeOf(
        checkSnpReport(
          await aws(),
          {},
          parseSnpPolicy({}),
          fromHex(AWS_AK_DIGEST),
          new Date("2026-01-01T00:00:00Z"),
        ),
      ),
    ).toBe("CERT_EXPIRED");
  });
});
