import { beforeAll, describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { type AttestationReport, parseReport, serializeReport } from "../abi/report.ts";
import { SnpPolicyError, type SnpPolicyErrorCode } from "../errors.ts";
import { thrown, vectors } from "../vectors.test-helper.ts";
import { createSnpVerifier, type VerifiedSnpReport } from "../verify/verifier.ts";
import { parseSnpPolicy, type SnpPolicyInput, SnpPolicySchema } from "./policy.ts";
import { type SnpValidationInput, validateSnpReport } from "./validate.ts";

const AZURE_ID_KEY =
  "57e229e0ffe5fa92d0faddff6cae0e61c926fc9ef9afd20a8b8cfcf7129db9338cbe5bf3f6987733a2bf65d06dc38fc1";
const CONSTELLATION_DEFAULT_ID_KEY =
  "0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3";
const AZURE_MEASUREMENT =
  "5677f1de87289e7ad2c7e99c805d0468b1a9ccd83f0d245afa5242d405da4d5725852f8c6550564870e5f3206dfb1841";

/** The policy constellation VECTORS.md V1 "Validate OK" describes, plus the launch measurement. */
const AZURE_POLICY: SnpPolicyInput = {
  vmpl: 0,
  allowSmt: true,
  minimumTcb: { bootloader: 2, tee: 0, snp: 6, microcode: 93 },
  minimumLaunchTcb: { bootloader: 2, tee: 0, snp: 6, microcode: 93 },
  permitProvisionalFirmware: true,
  idKeyDigests: { accepted: [AZURE_ID_KEY], enforcement: "equal" },
  measurement: AZURE_MEASUREMENT,
};

let azure: VerifiedSnpReport;
let gsg: VerifiedSnpReport;

beforeAll(async () => {
  const v = createSnpVerifier();
  azure = await v.verify(
    {
      report: parseReport(await vectors.azure.report(), { allowTrailing: true }),
      endorsementKey: await vectors.azure.vcekDer(),
      chain: await vectors.azure.chain(),
    },
    { now: vectors.azure.now },
  );
  gsg = await v.verify(
    { report: await vectors.gsg.report(), endorsementKey: await vectors.gsg.vcek() },
    { now: vectors.gsg.now, product: "milan" },
  );
});

/** The verified input with report fields edited (policy checks only; constellation "Signature versus policy"). */
function edited(base: VerifiedSnpReport, edit: (r: Record<string, unknown>) => void): SnpValidationInput {
  const fields = { ...base.report } as unknown as Record<string, unknown>;
  edit(fields);
  const report = parseReport(serializeReport(fields as unknown as AttestationReport));
  return { ...base, report };
}

function codes(input: SnpValidationInput, policy: SnpPolicyInput): SnpPolicyErrorCode[] {
  // Distinct codes: one TCB minimum may fail for CURRENT, REPORTED and COMMITTED alike.
  return [...new Set(validateSnpReport(input, parseSnpPolicy(policy)).failures.map((f) => f.code))];
}

async function policyInvalid(policy: unknown): Promise<void> {
  const e = await thrown(() => parseSnpPolicy(policy));
  expect(e).toBeInstanceOf(SnpPolicyError);
  expect((e as SnpPolicyError).code).toBe("POLICY_INVALID");
}

describe("constellation V1 (Azure) policy", () => {
  test("Validate OK", () => {
    const r = validateSnpReport(azure, parseSnpPolicy(AZURE_POLICY));
    expect(r.failures).toEqual([]);
    expect(r.valid).toBe(true);
    expect(r.warnings).toEqual([]);
  });

  test("default accepted digest: equal fails (ID_KEY_UNTRUSTED), warnOnly passes with a warning", () => {
    const enforced = {
      ...AZURE_POLICY,
      idKeyDigests: { accepted: [CONSTELLATION_DEFAULT_ID_KEY], enforcement: "equal" },
    };
    expect(codes(azure, enforced as SnpPolicyInput)).toEqual(["ID_KEY_UNTRUSTED"]);
    const warn = validateSnpReport(
      azure,
      parseSnpPolicy({
        ...AZURE_POLICY,
        idKeyDigests: { accepted: [CONSTELLATION_DEFAULT_ID_KEY], enforcement: "warnOnly" },
      }),
    );
    expect(warn.valid).toBe(true);
    expect(warn.warnings).toHaveLength(1);
  });

  test("accepted digest list [00] (wrong length) → POLICY_INVALID; 48 zero bytes → ID_KEY_UNTRUSTED", async () => {
    await policyInvalid({ ...AZURE_POLICY, idKeyDigests: { accepted: ["00"], enforcement: "equal" } });
    expect(
      codes(azure, { ...AZURE_POLICY, idKeyDigests: { accepted: ["00".repeat(48)], enforcement: "equal" } }),
    ).toEqual(["ID_KEY_UNTRUSTED"]);
  });

  test.each([
    {
      name: "VMPL set to 1",
      edit: (r: Record<string, unknown>) => {
        r["vmpl"] = 1;
      },
      code: "VMPL_MISMATCH",
    },
    {
      name: "current_tcb = committed_tcb − 1",
      edit: (r: Record<string, unknown>) => {
        r["currentTcb"] = (r["committedTcb"] as bigint) - 1n;
      },
      code: "CURRENT_BELOW_COMMITTED",
    },
    {
      name: "current_tcb microcode 0x5c while the VCEK has 0x5d",
      edit: (r: Record<string, unknown>) => {
        r["currentTcb"] = 0x5c06000000000002n;
      },
      code: "CURRENT_BELOW_CERT_TCB",
    },
  ])("$name → $code", ({ edit, code }) => {
    const failures = codes(edited(azure, edit), { ...AZURE_POLICY, minimumTcb: undefined });
    expect(failures).toContain(code as SnpPolicyErrorCode);
  });

  test("launch TCB microcode 9 against a minimum of 10 → LAUNCH_TCB_TOO_LOW", () => {
    const input = edited(azure, (r) => {
      r["launchTcb"] = 0x0906000000000002n;
    });
    expect(
      codes(input, { ...AZURE_POLICY, minimumLaunchTcb: { bootloader: 2, tee: 0, snp: 6, microcode: 10 } }),
    ).toEqual(["LAUNCH_TCB_TOO_LOW"]);
  });

  test("reported_tcb microcode = minimum − 1 → TCB_TOO_LOW", () => {
    const input = edited(azure, (r) => {
      r["reportedTcb"] = 0x5c06000000000002n;
    });
    expect(codes(input, AZURE_POLICY)).toEqual(["TCB_TOO_LOW"]);
  });
});

/** go-sev-guest tools/check/check_test.go over attestation.bin (external VECTORS.md §1.1). */
const GSG_GOOD: SnpPolicyInput = {
  reportData: `0102030405${"00".repeat(59)}`,
  hostData: "00".repeat(32),
  familyId: "00".repeat(16),
  imageId: "00".repeat(16),
  reportId: "8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a",
  reportIdMa: "ff".repeat(32),
  measurement:
    "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01",
  chipId:
    "3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d",
  minimumTcb: "4901323769462652930",
  minimumLaunchTcb: "4901323769462652930",
  allowDebug: true,
  allowSmt: true,
  minBuild: 0,
  minFirmwareVersion: "1.49",
  requireAuthorKey: false,
  requireIdBlock: false,
  vmpl: 0,
  platformInfoAllowed: 1,
};

describe("go-sev-guest check_test table", () => {
  test("good passes", () => {
    expect(codes(gsg, GSG_GOOD)).toEqual([]);
  });

  const bad: { name: string; patch: Record<string, unknown>; code: SnpPolicyErrorCode }[] = [
    {
      name: "report_data last byte 1",
      patch: { reportData: `${"00".repeat(63)}01` },
      code: "REPORT_DATA_MISMATCH",
    },
    { name: "report_data 65 bytes", patch: { reportData: "00".repeat(65) }, code: "POLICY_INVALID" },
    { name: "report_data non-hex", patch: { reportData: "zz".repeat(64) }, code: "POLICY_INVALID" },
    { name: "host_data 00…01", patch: { hostData: `${"00".repeat(31)}01` }, code: "HOST_DATA_MISMATCH" },
    { name: "host_data 33 bytes", patch: { hostData: "00".repeat(33) }, code: "POLICY_INVALID" },
    { name: "family_id 00…01", patch: { familyId: `${"00".repeat(15)}01` }, code: "FAMILY_ID_MISMATCH" },
    { name: "image_id 00…01", patch: { imageId: `${"00".repeat(15)}01` }, code: "IMAGE_ID_MISMATCH" },
    { name: "chip_id with an extra 00", patch: { chipId: `${GSG_GOOD.chipId}00` }, code: "POLICY_INVALID" },
    {
      name: "chip_id last byte 5e",
      patch: { chipId: `${GSG_GOOD.chipId?.slice(0, -2)}5e` },
      code: "CHIP_ID_MISMATCH",
    },
    {
      name: "minimum_tcb 4901323769462652931",
      patch: { minimumTcb: "4901323769462652931" },
      code: "TCB_TOO_LOW",
    },
    {
      name: "minimum_launch_tcb 4901323769462652931",
      patch: { minimumLaunchTcb: "4901323769462652931" },
      code: "LAUNCH_TCB_TOO_LOW",
    },
    { name: "guest policy 0 (no debug)", patch: { allowDebug: false }, code: "DEBUG_ALLOWED" },
    { name: "guest policy 0 (no SMT)", patch: { allowSmt: false }, code: "SMT_ALLOWED" },
    { name: 'guest policy "debug"', patch: { allowDebug: "debug" }, code: "POLICY_INVALID" },
    { name: "min_build 257", patch: { minBuild: 257 }, code: "POLICY_INVALID" },
    { name: "min_build 90", patch: { minBuild: 90 }, code: "ABI_TOO_OLD" },
    { name: "min firmware 0.0.0", patch: { minFirmwareVersion: "0.0.0" }, code: "POLICY_INVALID" },
    { name: "min firmware 1.50", patch: { minFirmwareVersion: "1.50" }, code: "ABI_TOO_OLD" },
    { name: 'min firmware "0."', patch: { minFirmwareVersion: "0." }, code: "POLICY_INVALID" },
    { name: 'min firmware ".0"', patch: { minFirmwareVersion: ".0" }, code: "POLICY_INVALID" },
    { name: "require_author_key", patch: { requireAuthorKey: true }, code: "AUTHOR_KEY_MISSING" },
    { name: "require_id_block", patch: { requireIdBlock: true }, code: "ID_BLOCK_MISSING" },
    { name: "vmpl 1", patch: { vmpl: 1 }, code: "VMPL_MISMATCH" },
    { name: "vmpl 4", patch: { vmpl: 4 }, code: "POLICY_INVALID" },
    { name: 'vmpl "wrong"', patch: { vmpl: "wrong" }, code: "POLICY_INVALID" },
    { name: "vmpl -1", patch: { vmpl: -1 }, code: "POLICY_INVALID" },
    { name: "platform_info 0", patch: { platformInfoAllowed: 0 }, code: "PLATFORM_INFO_REJECTED" },
  ];
  test.each(bad)("bad: $name → $code", async ({ patch, code }) => {
    const policy = { ...GSG_GOOD, ...patch };
    if (code === "POLICY_INVALID") return policyInvalid(policy);
    expect(codes(gsg, policy as SnpPolicyInput)).toEqual([code]);
  });
});

describe("mutation: every policy field has a passing and a failing value", () => {
  type Case = {
    ok: Partial<Record<string, unknown>>;
    bad: Partial<Record<string, unknown>>;
    code: SnpPolicyErrorCode;
    input?: () => SnpValidationInput;
  };
  const cases: Record<string, Case> = {
    product: { ok: { product: "milan" }, bad: { product: "genoa" }, code: "PRODUCT_MISMATCH" },
    signer: { ok: { signer: "vcek" }, bad: { signer: "vlek" }, code: "SIGNER_MISMATCH" },
    allowDebug: {
      ok: { allowDebug: true },
      bad: { allowDebug: false },
      code: "DEBUG_ALLOWED",
      input: () => gsg,
    },
    allowSmt: { ok: { allowSmt: true }, bad: { allowSmt: false }, code: "SMT_ALLOWED" },
    allowMigrationAgent: {
      ok: { allowMigrationAgent: true },
      bad: { allowMigrationAgent: false },
      code: "MIGRATION_AGENT_ALLOWED",
      input: () =>
        edited(azure, (r) => {
          r["policy"] = { ...(r["policy"] as object), migrateMa: 1 };
        }),
    },
    minFirmwareVersion: {
      ok: { minFirmwareVersion: "1.51" },
      bad: { minFirmwareVersion: "1.52" },
      code: "ABI_TOO_OLD",
    },
    minBuild: { ok: { minBuild: 1 }, bad: { minBuild: 2 }, code: "ABI_TOO_OLD" },
    vmpl: { ok: { vmpl: 0 }, bad: { vmpl: 2 }, code: "VMPL_MISMATCH" },
    minimumTcb: {
      ok: { minimumTcb: { bootloader: 2, tee: 0, snp: 6, microcode: 93 } },
      bad: { minimumTcb: { bootloader: 2, tee: 0, snp: 7, microcode: 0 } },
      code: "TCB_TOO_LOW",
    },
    minimumLaunchTcb: {
      ok: { minimumLaunchTcb: "0x5d06000000000002" },
      bad: { minimumLaunchTcb: "0x5d06000000000003" },
      code: "LAUNCH_TCB_TOO_LOW",
    },
    permitProvisionalFirmware: {
      ok: { permitProvisionalFirmware: true },
      bad: { permitProvisionalFirmware: false },
      code: "PROVISIONAL_FIRMWARE",
      input: () =>
        edited(azure, (r) => {
          r["currentTcb"] = 0x5e06000000000002n;
        }),
    },
    measurement: {
      ok: { measurement: [AZURE_MEASUREMENT, "11".repeat(48)] },
      bad: { measurement: "11".repeat(48) },
      code: "MEASUREMENT_MISMATCH",
    },
    reportData: {
      ok: {
        reportData: `0ccc0895ef2f2c3b8c8568f5a2bb65ff5bf9387a09359742ad41e686cacfd38b${"00".repeat(32)}`,
      },
      bad: { reportData: "00".repeat(64) },
      code: "REPORT_DATA_MISMATCH",
    },
    hostData: {
      ok: { hostData: "00".repeat(32) },
      bad: { hostData: "01".repeat(32) },
      code: "HOST_DATA_MISMATCH",
    },
    familyId: { ok: {}, bad: { familyId: "01".repeat(16) }, code: "FAMILY_ID_MISMATCH" },
    imageId: { ok: {}, bad: { imageId: "01".repeat(16) }, code: "IMAGE_ID_MISMATCH" },
    reportId: { ok: {}, bad: { reportId: "01".repeat(32) }, code: "REPORT_ID_MISMATCH" },
    reportIdMa: { ok: {}, bad: { reportIdMa: "01".repeat(32) }, code: "REPORT_ID_MA_MISMATCH" },
    chipId: { ok: {}, bad: { chipId: "01".repeat(64) }, code: "CHIP_ID_MISMATCH" },
    idKeyDigests: {
      ok: { idKeyDigests: { accepted: [AZURE_ID_KEY], enforcement: "equal" } },
      bad: { idKeyDigests: { accepted: ["22".repeat(48)], enforcement: "equal" } },
      code: "ID_KEY_UNTRUSTED",
    },
    requireIdBlock: {
      ok: { requireIdBlock: true },
      bad: { requireIdBlock: true, allowDebug: true },
      code: "ID_BLOCK_MISSING",
      input: () => gsg,
    },
    requireAuthorKey: {
      ok: { requireAuthorKey: false },
      bad: { requireAuthorKey: true },
      code: "AUTHOR_KEY_MISSING",
    },
    minGuestSvn: { ok: { minGuestSvn: 2 }, bad: { minGuestSvn: 3 }, code: "GUEST_SVN_TOO_LOW" },
    platformInfoAllowed: {
      ok: { platformInfoAllowed: "0x1" },
      bad: { platformInfoAllowed: 0 },
      code: "PLATFORM_INFO_REJECTED",
    },
    platformInfoRequired: {
      ok: { platformInfoRequired: 1 },
      bad: { platformInfoRequired: 2 },
      code: "PLATFORM_INFO_REJECTED",
    },
  };

  test("the table covers every field of SnpPolicySchema", () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(SnpPolicySchema.entries).sort());
  });

  // Fill in the fields whose "ok" value needs the report: its own value always passes.
  beforeAll(() => {
    const r = azure.report;
    Object.assign((cases["familyId"] as Case).ok, { familyId: toHex(r.familyId) });
    Object.assign((cases["imageId"] as Case).ok, { imageId: toHex(r.imageId) });
    Object.assign((cases["reportId"] as Case).ok, { reportId: toHex(r.reportId) });
    Object.assign((cases["reportIdMa"] as Case).ok, { reportIdMa: toHex(r.reportIdMa) });
    Object.assign((cases["chipId"] as Case).ok, { chipId: toHex(r.chipId) });
  });

  test.each(Object.keys(cases))("%s", (field) => {
    const c = cases[field] as Case;
    const okInput = field === "requireIdBlock" ? azure : (c.input?.() ?? azure);
    expect(codes(okInput, c.ok as SnpPolicyInput)).toEqual([]);
    expect(codes(c.input?.() ?? azure, c.bad as SnpPolicyInput)).toEqual([c.code]);
  });
});

describe("policy document", () => {
  test("unknown fields are rejected (a typo must not switch a check off)", async () => {
    await policyInvalid({ measurment: AZURE_MEASUREMENT });
  });
  test("empty policy: defaults (no debug, SMT allowed, VMPL 0, no provisional firmware)", () => {
    const p = parseSnpPolicy({});
    expect(p).toMatchObject({
      allowDebug: false,
      allowSmt: true,
      allowMigrationAgent: false,
      vmpl: 0,
      permitProvisionalFirmware: false,
    });
    expect(codes(gsg, {})).toEqual(["DEBUG_ALLOWED"]);
  });
  test.each([
    { name: "u64 too large", p: { minimumTcb: "18446744073709551616" } },
    { name: "TCB component 256", p: { minimumTcb: { bootloader: 256, tee: 0, snp: 0, microcode: 0 } } },
    { name: "empty measurement list", p: { measurement: [] } },
    {
      name: "bad enforcement",
      p: { idKeyDigests: { accepted: [AZURE_ID_KEY], enforcement: "maaFallback" } },
    },
    { name: "unknown product", p: { product: "rome" } },
  ])("$name → POLICY_INVALID", async ({ p }) => {
    await policyInvalid(p);
  });
});

describe("V3 AWS report_data binding", () => {
  test("expected report_data = AKDigest passes; 64 zero bytes fails REPORT_DATA_MISMATCH", async () => {
    const aws = await createSnpVerifier().verify(
      {
        report: await vectors.aws.report(),
        endorsementKey: await vectors.aws.vlek(),
        chain: await vectors.aws.chain(),
      },
      { now: vectors.aws.now },
    );
    // current (…,220) is ahead of committed (…,219): provisional firmware, as Constellation permits.
    const base = {
      reportData: vectors.aws.akDigest,
      signer: "vlek",
      permitProvisionalFirmware: true,
    } as const;
    const ok = validateSnpReport(aws, parseSnpPolicy(base));
    expect(ok.failures).toEqual([]);
    expect(ok.warnings).toHaveLength(1);
    expect(codes(aws, { ...base, reportData: "00".repeat(64) })).toEqual(["REPORT_DATA_MISMATCH"]);
    expect(
      codes(aws, { ...base, permitProvisionalFirmware: false, reportData: vectors.aws.akDigest }),
    ).toEqual(["PROVISIONAL_FIRMWARE"]);
  });
});
