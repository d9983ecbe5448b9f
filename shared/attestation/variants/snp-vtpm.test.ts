import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { concat, toBase64Url } from "@asterism/bytes";
import { createMeasurements } from "@asterism/measurements";
import { parseSnpPolicy } from "@asterism/sev-snp";
import {
  codeOfAsync as codeOf,
  createFakeSnpPlatform,
  type FakeSnpPlatform,
  type SwtpmInstance,
  startSwtpm,
} from "@asterism/testing";
import {
  type ClosableTpm,
  EventLogWriter,
  measureEvent,
  openSwtpm,
  parseTpmtPublic,
  rsaParams,
  TPM_ALG,
  type TPMT_PUBLIC,
} from "@asterism/tpm";
import { makeExtraData } from "../binding.ts";
import { parseAttestationDocument, serializeAttestationDocument } from "../document.ts";
import type { AttestationPolicy } from "../policy.ts";
import { validateDocument } from "../validate-document.ts";
import { akSpki } from "../vtpm/ak-key.ts";
import { parseVtpmEvidence, vtpmEvidenceToJson } from "../vtpm/evidence.ts";
import { gceFirmwareEvents } from "../vtpm/gce-vectors.test-helper.ts";
import { issueVtpmEvidence } from "../vtpm/issue.ts";
import { serializeSnpInstanceInfo } from "../vtpm/snp-instance.ts";
import { createTestAkCa, type TestAkCa } from "../vtpm/test-ak-ca.test-helper.ts";
import {
  createAwsSevSnpIssuer,
  createAwsSevSnpValidator,
  createAzureSevSnpValidator,
  createGcpSevSnpValidator,
} from "./snp-vtpm.ts";

// Full SNP-based documents: a real swtpm for the quote, a fake AMD platform (synthetic ARK → ASK/ASVK →
// VCEK/VLEK, reports signed like the firmware) for the SEV-SNP report.
let sw: SwtpmInstance;
let tpm: ClosableTpm;
let vlek: FakeSnpPlatform;
let vcek: FakeSnpPlatform;
let ca: TestAkCa;
let ak: TPMT_PUBLIC;
let eventLog: EventLogWriter;
const MEASUREMENT = new Uint8Array(48).fill(0x4d);
const userData = new Uint8Array(32).fill(0x01);
const nonce = new Uint8Array(32).fill(0x02);
const NOW = () => new Date("2025-06-01T00:00:00Z");
const sha256 = (b: Uint8Array) => new Uint8Array(createHash("sha256").update(b).digest());

const policy = (snp: Record<string, unknown> = {}): AttestationPolicy => ({
  measurements: createMeasurements([[15, { expected: new Uint8Array(32) }]]),
  snp: parseSnpPolicy({ measurement: Buffer.from(MEASUREMENT).toString("hex"), ...snp }),
});

async function signedReport(p: FakeSnpPlatform, reportData: Uint8Array, over: Record<string, unknown> = {}) {
  const report = await p.sign({ ...p.template(3), reportData, measurement: MEASUREMENT, ...over });
  return { report, endorsementKey: p.endorsementKey };
}

beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  vlek = await createFakeSnpPlatform({ product: "milan", signer: "vlek" });
  vcek = await createFakeSnpPlatform({ product: "genoa", signer: "vcek" });
  ca = await createTestAkCa();
  ak = parseTpmtPublic((await issueVtpmEvidence({ tpm }, userData, nonce)).akPublic);
  eventLog = new EventLogWriter([TPM_ALG.SHA256]);
  for (const e of gceFirmwareEvents(4)) await measureEvent(tpm, eventLog, e);
}, 30_000);

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

describe("aws-sev-snp", () => {
  const issuer = (over: Record<string, unknown> = {}) =>
    createAwsSevSnpIssuer({ tpm, snpReport: (rd) => signedReport(vlek, rd, over) });
  const validator = (p = policy()) =>
    createAwsSevSnpValidator({ policy: p, now: NOW, snpTrust: { trustedRoots: vlek.trustedRoots } });

  test("issue → validate: AK named by the VLEK-signed report", async () => {
    const claims = await validator().validate(await issuer().issue(userData, nonce), nonce);
    expect(claims.trust).toMatchObject({
      identityTrusted: true,
      hardwareVerified: true,
      configurationChecked: true,
    });
    expect((claims.details["snp"] as { signer: string }).signer).toBe("vlek");
    expect(claims.warnings.some((w) => w.includes("outside the TEE"))).toBe(true);
  });

  const negatives: { name: string; run: () => Promise<unknown>; code: string }[] = [
    {
      name: "report for another AK (REPORT_DATA random)",
      run: async () => {
        const other = createAwsSevSnpIssuer({
          tpm,
          snpReport: () => signedReport(vlek, crypto.getRandomValues(new Uint8Array(64))),
        });
        return validator().validate(await other.issue(userData, nonce), nonce);
      },
      code: "REPORT_DATA_MISMATCH",
    },
    {
      name: "launch measurement not in policy",
      run: async () =>
        validator().validate(await issuer({ measurement: new Uint8Array(48) }).issue(userData, nonce), nonce),
      code: "MEASUREMENT_MISMATCH",
    },
    {
      name: "debug guest policy",
      run: async () => {
        const t = vlek.template(3);
        return validator().validate(
          await issuer({ policy: { ...t.policy, debug: 1 } }).issue(userData, nonce),
          nonce,
        );
      },
      code: "DEBUG_ALLOWED",
    },
    {
      name: "AMD's real roots do not trust the fake platform",
      run: async () =>
        createAwsSevSnpValidator({ policy: policy(), now: NOW }).validate(
          await issuer().issue(userData, nonce),
          nonce,
        ),
      code: "CHAIN_INVALID",
    },
    {
      name: "SNP report swapped after issuing (instanceInfo is bound into the quote)",
      run: async () => {
        const d = parseAttestationDocument(await issuer().issue(userData, nonce));
        const ev = parseVtpmEvidence(d.evidence);
        const swapped = serializeSnpInstanceInfo(await signedReport(vlek, new Uint8Array(64)));
        return validator().validate(
          serializeAttestationDocument({
            ...d,
            evidence: vtpmEvidenceToJson({ ...ev, instanceInfo: swapped }),
          }),
          nonce,
        );
      },
      code: "BINDING_MISMATCH",
    },
    {
      name: "no SNP instance info",
      run: async () => {
        const d = parseAttestationDocument(await issuer().issue(userData, nonce));
        const ev = parseVtpmEvidence(d.evidence);
        return validator().validate(
          serializeAttestationDocument({
            ...d,
            evidence: vtpmEvidenceToJson({ ...ev, instanceInfo: undefined }),
          }),
          nonce,
        );
      },
      code: "INVALID_SCHEMA",
    },
  ];
  test.each(negatives)(
    "$name → $code",
    async ({ run, code }) => {
      expect(await codeOf(run())).toBe(code);
    },
    15_000,
  );
});

describe("azure-sev-snp", () => {
  const runtimeData = (n: Uint8Array) =>
    new TextEncoder().encode(
      JSON.stringify({
        keys: [{ kid: "HCLAkPub", key_ops: ["sign"], kty: "RSA", e: "AQAB", n: toBase64Url(n) }],
        "vm-configuration": { "secure-boot": true, "tpm-enabled": true },
      }),
    );
  async function doc(rd: Uint8Array, reportData?: Uint8Array) {
    const info = serializeSnpInstanceInfo({
      ...(await signedReport(vcek, reportData ?? concat(sha256(rd), new Uint8Array(32)))),
      runtimeData: rd,
    });
    const ev = await issueVtpmEvidence({ tpm }, userData, nonce, info);
    return serializeAttestationDocument({
      variant: "azure-sev-snp",
      userData,
      nonce,
      evidence: vtpmEvidenceToJson(ev),
    });
  }
  const validator = () =>
    createAzureSevSnpValidator({ policy: policy(), now: NOW, snpTrust: { trustedRoots: vcek.trustedRoots } });
  const modulus = () => rsaParams(ak)?.modulus ?? new Uint8Array();

  test("runtime data names the TPM AK and is bound by REPORT_DATA", async () => {
    const claims = await validator().validate(await doc(runtimeData(modulus())), nonce);
    expect(claims.trust?.identityTrusted).toBe(true);
    expect(claims.details["chipId"]).toBe(Buffer.from(vcek.chipId).toString("hex"));
  });
  test("runtime data naming another key → AK_MISMATCH", async () => {
    const other = modulus().slice();
    other[10] = (other[10] as number) ^ 1;
    expect(await codeOf(validator().validate(await doc(runtimeData(other)), nonce))).toBe("AK_MISMATCH");
  });
  test("REPORT_DATA not the runtime-data hash → REPORT_DATA_MISMATCH", async () => {
    expect(
      await codeOf(validator().validate(await doc(runtimeData(modulus()), new Uint8Array(64)), nonce)),
    ).toBe("REPORT_DATA_MISMATCH");
  });
  test("VLEK-signed report where the policy default expects VCEK → SIGNER_MISMATCH", async () => {
    const rd = runtimeData(modulus());
    const info = serializeSnpInstanceInfo({
      ...(await signedReport(vlek, concat(sha256(rd), new Uint8Array(32)))),
      runtimeData: rd,
    });
    const ev = await issueVtpmEvidence({ tpm }, userData, nonce, info);
    const d = serializeAttestationDocument({
      variant: "azure-sev-snp",
      userData,
      nonce,
      evidence: vtpmEvidenceToJson(ev),
    });
    const v = createAzureSevSnpValidator({
      policy: policy(),
      now: NOW,
      snpTrust: { trustedRoots: { ...vcek.trustedRoots, ...vlek.trustedRoots } },
    });
    expect(await codeOf(v.validate(d, nonce))).toBe("SIGNER_MISMATCH");
  });
});

describe("gcp-sev-snp", () => {
  async function doc(reportData?: Uint8Array) {
    const extra = makeExtraData(userData, nonce);
    const info = serializeSnpInstanceInfo(
      await signedReport(vcek, reportData ?? concat(extra, new Uint8Array(32))),
    );
    const ev = await issueVtpmEvidence(
      { tpm, readEventLog: async () => eventLog.bytes() },
      userData,
      nonce,
      info,
    );
    const akCert = await ca.issueAk(akSpki(ak), {
      zone: "us-central1-a",
      projectId: "p",
      instanceName: "snp-1",
    });
    return serializeAttestationDocument({
      variant: "gcp-sev-snp",
      userData,
      nonce,
      evidence: vtpmEvidenceToJson({ ...ev, akCert, intermediates: [ca.intermediateDer] }),
    });
  }
  const validator = () =>
    createGcpSevSnpValidator({
      policy: policy(),
      now: NOW,
      akTrust: { roots: [ca.rootDer] },
      snpTrust: { trustedRoots: vcek.trustedRoots },
    });

  test("AK certificate + SEV-SNP machine state + REPORT_DATA = extraData ‖ 0³²", async () => {
    const claims = await validator().validate(await doc(), nonce);
    expect(claims.details["machineState"]).toEqual({ firmwareVersion: 1, technology: "AMD_SEV_SNP" });
    expect(claims.trust).toMatchObject({ identityTrusted: true, hardwareVerified: true });
  });
  test("REPORT_DATA for another exchange → REPORT_DATA_MISMATCH", async () => {
    expect(await codeOf(validator().validate(await doc(new Uint8Array(64)), nonce))).toBe(
      "REPORT_DATA_MISMATCH",
    );
  });
  test("no Google roots → TRUST_NOT_CONFIGURED", () => {
    expect(() => createGcpSevSnpValidator({ policy: policy() })).toThrow();
  });
});

describe("policy mutations through validateDocument (aws-sev-snp document)", () => {
  // One document; each case changes exactly one policy field and must flip the outcome with its code.
  let doc: Uint8Array;
  beforeAll(async () => {
    doc = await createAwsSevSnpIssuer({ tpm, snpReport: (rd) => signedReport(vlek, rd) }).issue(
      userData,
      nonce,
    );
  });
  const run = (p: AttestationPolicy) =>
    validateDocument(doc, { policy: p, nonce, now: NOW, snpTrust: { trustedRoots: vlek.trustedRoots } });

  test("baseline policy accepts", async () => {
    const r = await run(policy());
    expect(r.ear.submods["aws-sev-snp"]?.["ear.trustworthiness-vector"]).toMatchObject({
      "instance-identity": 2,
      hardware: 2,
      configuration: 2,
    });
  });

  const hex = (n: number, b: number) => Buffer.from(new Uint8Array(n).fill(b)).toString("hex");
  const cases: { field: string; policy: () => AttestationPolicy; code: string }[] = [
    {
      field: "variants",
      policy: () => ({ ...policy(), variants: ["qemu-vtpm"] }),
      code: "VARIANT_NOT_ALLOWED",
    },
    {
      field: "measurements (PCR 15)",
      policy: () => ({
        ...policy(),
        measurements: createMeasurements([[15, { expected: new Uint8Array(32).fill(1) }]]),
      }),
      code: "MEASUREMENT_MISMATCH",
    },
    {
      field: "snp.measurement",
      policy: () => policy({ measurement: hex(48, 1) }),
      code: "MEASUREMENT_MISMATCH",
    },
    { field: "snp.signer", policy: () => policy({ signer: "vcek" }), code: "SIGNER_MISMATCH" },
    { field: "snp.product", policy: () => policy({ product: "genoa" }), code: "PRODUCT_MISMATCH" },
    { field: "snp.vmpl", policy: () => policy({ vmpl: 1 }), code: "VMPL_MISMATCH" },
    {
      field: "snp.minimumTcb",
      policy: () => policy({ minimumTcb: { bootloader: 3, tee: 0, snp: 9, microcode: 115 } }),
      code: "TCB_TOO_LOW",
    },
    {
      field: "snp.minimumLaunchTcb",
      policy: () => policy({ minimumLaunchTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 116 } }),
      code: "LAUNCH_TCB_TOO_LOW",
    },
    { field: "snp.minGuestSvn", policy: () => policy({ minGuestSvn: 1 }), code: "GUEST_SVN_TOO_LOW" },
    { field: "snp.hostData", policy: () => policy({ hostData: hex(32, 7) }), code: "HOST_DATA_MISMATCH" },
    { field: "snp.familyId", policy: () => policy({ familyId: hex(16, 7) }), code: "FAMILY_ID_MISMATCH" },
    { field: "snp.imageId", policy: () => policy({ imageId: hex(16, 7) }), code: "IMAGE_ID_MISMATCH" },
    {
      field: "snp.idKeyDigests (equal)",
      policy: () => policy({ idKeyDigests: { accepted: [hex(48, 9)], enforcement: "equal" } }),
      code: "ID_KEY_UNTRUSTED",
    },
    { field: "snp.requireIdBlock", policy: () => policy({ requireIdBlock: true }), code: "ID_BLOCK_MISSING" },
    {
      field: "snp.requireAuthorKey",
      policy: () => policy({ requireAuthorKey: true }),
      code: "AUTHOR_KEY_MISSING",
    },
    {
      field: "snp.minFirmwareVersion",
      policy: () => policy({ minFirmwareVersion: "2.0" }),
      code: "ABI_TOO_OLD",
    },
  ];
  test.each(cases)("$field → $code", async ({ policy: p, code }) => {
    expect(await codeOf(run(p()))).toBe(code);
  });

  test("snp.idKeyDigests (warnOnly) → accepted with a warning", async () => {
    const r = await run(policy({ idKeyDigests: { accepted: [hex(48, 9)], enforcement: "warnOnly" } }));
    expect(r.ear.submods["aws-sev-snp"]?.["ear.status"]).toBe("warning");
  });
});
