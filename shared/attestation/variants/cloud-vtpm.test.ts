import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createMeasurements } from "@asterism/measurements";
import { codeOfAsync as codeOf, type SwtpmInstance, startSwtpm } from "@asterism/testing";
import {
  type ClosableTpm,
  EventLogWriter,
  measureEvent,
  openSwtpm,
  parseTpmtPublic,
  TPM_ALG,
} from "@asterism/tpm";
import { parseAttestationDocument, serializeAttestationDocument } from "../document.ts";
import type { AttestationPolicy } from "../policy.ts";
import { validateDocument } from "../validate-document.ts";
import { akSpki } from "../vtpm/ak-key.ts";
import { parseVtpmEvidence, vtpmEvidenceToJson } from "../vtpm/evidence.ts";
import { GCE_NOW, gceEvidence, gceFirmwareEvents, gceTrust } from "../vtpm/gce-vectors.test-helper.ts";
import { issueVtpmEvidence } from "../vtpm/issue.ts";
import { createTestAkCa, type TestAkCa } from "../vtpm/test-ak-ca.test-helper.ts";
import { createAwsNitroTpmIssuer, createAwsNitroTpmValidator } from "./aws-nitro-tpm.ts";
import { createGcpSevEsValidator } from "./gcp.ts";

// gcp-sev-es and aws-nitro-tpm documents issued on a real swtpm. For GCP the AK certificate comes from a
// test CA shaped like Google's (root → intermediate → AK cert with the GCE instance extension).
let sw: SwtpmInstance;
let tpm: ClosableTpm;
let ca: TestAkCa;
let spki: Uint8Array;
let eventLog: EventLogWriter;
const userData = new Uint8Array(32).fill(0xaa);
const nonce = new Uint8Array(32).fill(0xbb);
const policy: AttestationPolicy = {
  measurements: createMeasurements([[15, { expected: new Uint8Array(32) }]]),
};
const NOW = () => new Date("2025-06-01T00:00:00Z");
const GCE = { zone: "europe-west3-a", projectId: "asterism-test", instanceName: "node-1" };

async function gcpDoc(
  opts: { instanceInfo?: object; cert?: Uint8Array | null; log?: Uint8Array | null } = {},
): Promise<Uint8Array> {
  const info = opts.instanceInfo ? new TextEncoder().encode(JSON.stringify(opts.instanceInfo)) : undefined;
  const log = opts.log === null ? undefined : (opts.log ?? eventLog.bytes());
  const ev = await issueVtpmEvidence({ tpm, readEventLog: async () => log }, userData, nonce, info);
  const akCert = opts.cert === null ? undefined : (opts.cert ?? (await ca.issueAk(spki, GCE)));
  return serializeAttestationDocument({
    variant: "gcp-sev-es",
    userData,
    nonce,
    evidence: vtpmEvidenceToJson({
      ...ev,
      ...(akCert ? { akCert } : {}),
      intermediates: [ca.intermediateDer],
    }),
  });
}

beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  ca = await createTestAkCa();
  // GCE firmware measures its version and the confidential technology (AMD SEV-ES = 2) into PCR 0.
  eventLog = new EventLogWriter([TPM_ALG.SHA256]);
  for (const e of gceFirmwareEvents(2)) await measureEvent(tpm, eventLog, e);
  const ev = await issueVtpmEvidence({ tpm }, userData, nonce);
  spki = akSpki(parseTpmtPublic(ev.akPublic));
}, 20_000);

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

describe("gcp-sev-es", () => {
  const validator = () => createGcpSevEsValidator({ policy, akTrust: { roots: [ca.rootDer] }, now: NOW });

  test("AK certificate chain → trusted identity from the certificate extension", async () => {
    const claims = await validator().validate(await gcpDoc(), nonce);
    expect(claims.trust?.identityTrusted).toBe(true);
    expect(claims.details["instance"]).toMatchObject({
      zone: GCE.zone,
      projectId: GCE.projectId,
      instanceName: "node-1",
    });
  });

  test("matching Constellation-style instance info is accepted", async () => {
    const info = { zone: GCE.zone, project_id: GCE.projectId, instance_name: GCE.instanceName };
    expect((await validator().validate(await gcpDoc({ instanceInfo: info }), nonce)).variant).toBe(
      "gcp-sev-es",
    );
  });

  test("validateDocument() produces an EAR with instance-identity affirmed", async () => {
    const r = await validateDocument(await gcpDoc(), {
      policy,
      nonce,
      now: NOW,
      akTrust: { roots: [ca.rootDer] },
    });
    expect(r.ear.submods["gcp-sev-es"]?.["ear.trustworthiness-vector"]["instance-identity"]).toBe(2);
    expect(r.ear.submods["gcp-sev-es"]?.["asterism.instance"]).toMatchObject({ instanceName: "node-1" });
  });

  const negatives: { name: string; run: () => Promise<unknown>; code: string }[] = [
    {
      name: "no roots configured",
      run: async () => createGcpSevEsValidator({ policy }).validate(await gcpDoc(), nonce),
      code: "TRUST_NOT_CONFIGURED",
    },
    {
      name: "no AK certificate in the evidence",
      run: async () => validator().validate(await gcpDoc({ cert: null }), nonce),
      code: "AK_UNTRUSTED",
    },
    {
      name: "AK certificate from another CA",
      run: async () => {
        const other = await createTestAkCa();
        return validator().validate(await gcpDoc({ cert: await other.issueAk(spki, GCE) }), nonce);
      },
      code: "AK_CERT_INVALID",
    },
    {
      name: "TestVerifyIgnoreAKPubWithAKCert: certificate for another AK",
      run: async () => {
        const kp = await crypto.subtle.generateKey(
          {
            name: "RSASSA-PKCS1-v1_5",
            modulusLength: 2048,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: "SHA-256",
          },
          true,
          ["sign", "verify"],
        );
        const otherSpki = new Uint8Array(await crypto.subtle.exportKey("spki", kp.publicKey));
        return validator().validate(await gcpDoc({ cert: await ca.issueAk(otherSpki, GCE) }), nonce);
      },
      code: "AK_MISMATCH",
    },
    {
      name: "no event log (machine state unknown)",
      run: async () => validator().validate(await gcpDoc({ log: null }), nonce),
      code: "PLATFORM_POLICY",
    },
    {
      name: "event log claiming SEV-SNP that the PCRs do not show",
      run: async () => {
        const fake = new EventLogWriter([TPM_ALG.SHA256]);
        for (const e of gceFirmwareEvents(4)) fake.append(e);
        return validator().validate(await gcpDoc({ log: fake.bytes() }), nonce);
      },
      code: "EVENT_LOG_MISMATCH",
    },
    {
      name: "TestVerifyIgnoreAKPubWithAKCert on the real GCE AK certificate (quotes by another AK)",
      run: async () => {
        const real = await gceEvidence("gce-cos-85-nonce9009");
        const gce = await gceTrust();
        const ev = parseVtpmEvidence(parseAttestationDocument(await gcpDoc({ cert: null })).evidence);
        const d = serializeAttestationDocument({
          variant: "gcp-sev-es",
          userData,
          nonce,
          evidence: vtpmEvidenceToJson({ ...ev, akCert: real.akCert, intermediates: gce.intermediates }),
        });
        return createGcpSevEsValidator({
          policy,
          akTrust: { roots: gce.roots },
          now: () => GCE_NOW,
        }).validate(d, nonce);
      },
      code: "AK_MISMATCH",
    },
    {
      name: "AK certificate without the GCE identity extension",
      run: async () => validator().validate(await gcpDoc({ cert: await ca.issueAk(spki) }), nonce),
      code: "PLATFORM_POLICY",
    },
    {
      name: "instance info naming another instance",
      run: async () =>
        validator().validate(
          await gcpDoc({
            instanceInfo: { zone: GCE.zone, project_id: GCE.projectId, instance_name: "node-2" },
          }),
          nonce,
        ),
      code: "PLATFORM_POLICY",
    },
    {
      name: "instance info replaced after issuing (bound into the quote)",
      run: async () => {
        const info = { zone: GCE.zone, project_id: GCE.projectId, instance_name: GCE.instanceName };
        const d = parseAttestationDocument(await gcpDoc({ instanceInfo: info }));
        const ev = parseVtpmEvidence(d.evidence);
        const swapped = new TextEncoder().encode(JSON.stringify({ ...info, extra: 1 }));
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
      name: "certificate not valid at the verification time",
      run: async () =>
        createGcpSevEsValidator({
          policy,
          akTrust: { roots: [ca.rootDer] },
          now: () => new Date("2040-01-01T00:00:00Z"),
        }).validate(await gcpDoc(), nonce),
      code: "AK_CERT_INVALID",
    },
  ];
  test.each(negatives)("$name → $code", async ({ run, code }) => {
    expect(await codeOf(run())).toBe(code);
  });
});

describe("aws-nitro-tpm", () => {
  const identity = new TextEncoder().encode(
    JSON.stringify({
      accountId: "123456789012",
      instanceId: "i-0abc",
      region: "eu-west-1",
      imageId: "ami-1",
    }),
  );
  const issuer = () => createAwsNitroTpmIssuer({ tpm, readIdentityDocument: async () => identity });

  test("without pinned AKs: valid, identity not claimed, unsigned document flagged", async () => {
    const claims = await createAwsNitroTpmValidator({ policy }).validate(
      await issuer().issue(userData, nonce),
      nonce,
    );
    expect(claims.trust?.identityTrusted).toBe(false);
    expect(claims.details["instance"]).toMatchObject({ instanceId: "i-0abc", signed: false });
    expect(claims.warnings.some((w) => w.includes("unsigned"))).toBe(true);
  });

  test("with the pinned AK: identity verified", async () => {
    const claims = await createAwsNitroTpmValidator({ policy, akKeys: [spki] }).validate(
      await issuer().issue(userData, nonce),
      nonce,
    );
    expect(claims.trust?.identityTrusted).toBe(true);
  });

  test("identity document missing → INVALID_SCHEMA; not JSON → INVALID_EVIDENCE", async () => {
    const d = parseAttestationDocument(await issuer().issue(userData, nonce));
    const ev = parseVtpmEvidence(d.evidence);
    const without = serializeAttestationDocument({
      ...d,
      evidence: vtpmEvidenceToJson({ ...ev, instanceInfo: undefined }),
    });
    expect(await codeOf(createAwsNitroTpmValidator({ policy }).validate(without, nonce))).toBe(
      "INVALID_SCHEMA",
    );
    const garbage = createAwsNitroTpmIssuer({
      tpm,
      readIdentityDocument: async () => new Uint8Array([1, 2]),
    });
    expect(
      await codeOf(
        createAwsNitroTpmValidator({ policy }).validate(await garbage.issue(userData, nonce), nonce),
      ),
    ).toBe("INVALID_EVIDENCE");
  });
});
