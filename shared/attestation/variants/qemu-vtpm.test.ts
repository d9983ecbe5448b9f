import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { encode } from "@asterism/codec";
import { createMeasurements } from "@asterism/measurements";
import { codeOfAsync as codeOf, type SwtpmInstance, startSwtpm } from "@asterism/testing";
import {
  type ClosableTpm,
  createAttestationKey,
  EV,
  EventLogWriter,
  extendPcr,
  flush,
  getCapability,
  measureEvent,
  openSwtpm,
  parseTpmtPublic,
  persistentAttestationKey,
  quote,
  readPcrs,
  TPM_ALG,
  TPM_CAP,
  TPMT_PUBLIC,
} from "@asterism/tpm";
import { makeExtraData, tpmQualifyingData } from "../binding.ts";
import { parseAttestationDocument, serializeAttestationDocument } from "../document.ts";
import type { AttestationPolicy } from "../policy.ts";
import { akSpki } from "../vtpm/ak-key.ts";
import { parseVtpmEvidence, vtpmEvidenceToJson } from "../vtpm/evidence.ts";
import { gceEvidence } from "../vtpm/gce-vectors.test-helper.ts";
import { createQemuVtpmIssuer, createQemuVtpmValidator } from "./qemu-vtpm.ts";

// Round trips on a real swtpm (constellation VECTORS.md V10 "vTPM document" table).
let sw: SwtpmInstance;
let tpm: ClosableTpm;
const userData = new Uint8Array(32).fill(0x11);
const nonce = new Uint8Array(32).fill(0x22);
let doc: Uint8Array;
let pcrs: Map<number, Uint8Array>;
let policy: AttestationPolicy;

beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  // Something measured into PCR 4, like a boot loader would.
  await extendPcr(tpm, 4, [{ hashAlg: TPM_ALG.SHA256, digest: new Uint8Array(32).fill(0x44) }]);
  doc = await createQemuVtpmIssuer({ tpm }).issue(userData, nonce);
  const read = await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 4, 15] }]);
  pcrs = read.get(TPM_ALG.SHA256) as Map<number, Uint8Array>;
  policy = {
    measurements: createMeasurements([
      [0, { expected: pcrs.get(0) as Uint8Array }],
      [4, { expected: pcrs.get(4) as Uint8Array }],
      [15, { expected: new Uint8Array(32) }],
    ]),
  };
}, 20_000);

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

function mutateEvidence(f: (e: Record<string, unknown>) => void): Uint8Array {
  const d = JSON.parse(new TextDecoder().decode(doc));
  f(d.evidence);
  return new TextEncoder().encode(JSON.stringify(d));
}

describe("qemu-vtpm on swtpm", () => {
  test("issue → validate returns the userData and the measured PCRs", async () => {
    const claims = await createQemuVtpmValidator({ policy }).validate(doc, nonce);
    expect(claims.userData).toEqual(userData);
    expect(claims.measurements[4]).toBe(Buffer.from(pcrs.get(4) ?? []).toString("hex"));
    expect(claims.trust?.identityTrusted).toBe(false);
    expect(claims.warnings.some((w) => w.startsWith("attestation key not verified"))).toBe(true);
  });

  test("a persistent AK (created once) gives the same AK and valid documents, with no transient left", async () => {
    const ak = () => persistentAttestationKey(tpm);
    const issuer = createQemuVtpmIssuer({ tpm, attestationKey: ak });
    const n2 = new Uint8Array(32).fill(0x33);
    const d1 = await issuer.issue(userData, n2);
    const d2 = await issuer.issue(userData, n2);
    const v = createQemuVtpmValidator({ policy });
    const c1 = await v.validate(d1, n2);
    const c2 = await v.validate(d2, n2);
    // Same key as the transient AK from the same template (primary keys are derived from the seed).
    const c0 = await v.validate(doc, nonce);
    expect(c1.details["akSpki"]).toBe(c0.details["akSpki"]);
    expect(c2.details["akSpki"]).toBe(c0.details["akSpki"]);
    const { data } = await getCapability(tpm, TPM_CAP.HANDLES, 0x80000000, 16);
    expect(data.data).toEqual([]);
  });

  test("pinned AK: trusted when it is this TPM's AK", async () => {
    const ev = parseVtpmEvidence(parseAttestationDocument(doc).evidence);
    const spki = akSpki(parseTpmtPublic(ev.akPublic));
    const claims = await createQemuVtpmValidator({ policy, akKeys: [spki] }).validate(doc, nonce);
    expect(claims.trust?.identityTrusted).toBe(true);
  });

  test("warn-only mismatch passes with one warning per index", async () => {
    const warn: AttestationPolicy = {
      measurements: createMeasurements([
        [1, { expected: new Uint8Array(32).fill(1), warnOnly: true }],
        [2, { expected: new Uint8Array(32).fill(2), warnOnly: true }],
      ]),
    };
    const claims = await createQemuVtpmValidator({ policy: warn }).validate(doc, nonce);
    expect(claims.warnings.filter((w) => w.startsWith("measurement"))).toHaveLength(2);
  });

  const negatives: { name: string; run: () => Promise<unknown>; code: string }[] = [
    {
      name: "wrong nonce",
      run: () => createQemuVtpmValidator({ policy }).validate(doc, new Uint8Array(32).fill(0x23)),
      code: "NONCE_MISMATCH",
    },
    {
      name: "nonce in envelope rewritten to the verifier's (quote still bound to the old one)",
      run: () => {
        const d = parseAttestationDocument(doc);
        const other = new Uint8Array(32).fill(0x23);
        return createQemuVtpmValidator({ policy }).validate(
          serializeAttestationDocument({ ...d, nonce: other }),
          other,
        );
      },
      code: "BINDING_MISMATCH",
    },
    {
      name: "userData swapped into the document",
      run: () => {
        const d = parseAttestationDocument(doc);
        return createQemuVtpmValidator({ policy }).validate(
          serializeAttestationDocument({ ...d, userData: new Uint8Array(32).fill(0x12) }),
          nonce,
        );
      },
      code: "BINDING_MISMATCH",
    },
    {
      name: "enforced measurement mismatch (PCR 15 expected initialized)",
      run: () =>
        createQemuVtpmValidator({
          policy: { measurements: createMeasurements([[15, { expected: new Uint8Array(32).fill(0xdf) }]]) },
        }).validate(doc, nonce),
      code: "MEASUREMENT_MISMATCH",
    },
    {
      name: "tampered quote",
      run: () =>
        createQemuVtpmValidator({ policy }).validate(
          mutateEvidence((e) => {
            const q = (e["quotes"] as { attest: string }[])[0] as { attest: string };
            const b = Buffer.from(q.attest, "base64");
            b[b.length - 1] = (b[b.length - 1] as number) ^ 1;
            q.attest = b.toString("base64");
          }),
          nonce,
        ),
      code: "QUOTE_SIGNATURE_INVALID",
    },
    {
      name: "tampered PCR value in evidence",
      run: () =>
        createQemuVtpmValidator({ policy }).validate(
          mutateEvidence((e) => {
            const q = (e["quotes"] as { pcrs: { values: Record<string, string> } }[])[0];
            if (q) q.pcrs.values["4"] = "55".repeat(32);
          }),
          nonce,
        ),
      code: "PCR_DIGEST_MISMATCH",
    },
    {
      name: "other AK (GCE AK) substituted",
      run: async () => {
        const gce = await gceEvidence("gce-cos-85-nonce9009");
        return createQemuVtpmValidator({ policy }).validate(
          mutateEvidence((e) => {
            e["akPublic"] = Buffer.from(gce.akPublic).toString("base64");
          }),
          nonce,
        );
      },
      code: "QUOTE_SIGNATURE_INVALID",
    },
    {
      name: "pinned AK that is not this TPM's",
      run: async () => {
        const kp = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
        const other = new Uint8Array(await crypto.subtle.exportKey("spki", kp.publicKey));
        return createQemuVtpmValidator({ policy, akKeys: [other] }).validate(doc, nonce);
      },
      code: "AK_UNTRUSTED",
    },
    {
      name: "no SHA-256 quote (relabelled)",
      run: () =>
        createQemuVtpmValidator({ policy }).validate(
          mutateEvidence((e) => {
            const q = (e["quotes"] as { pcrs: { hash: string } }[])[0];
            if (q) q.pcrs.hash = "sha1";
          }),
          nonce,
        ),
      code: "INVALID_LENGTH",
    },
    {
      name: "instanceInfo smuggled into qemu-vtpm evidence",
      run: () =>
        createQemuVtpmValidator({ policy }).validate(
          mutateEvidence((e) => {
            e["instanceInfo"] = "AAAA";
          }),
          nonce,
        ),
      code: "INVALID_SCHEMA",
    },
    {
      name: "garbage JSON",
      run: () => createQemuVtpmValidator({ policy }).validate(new TextEncoder().encode("{]"), nonce),
      code: "INVALID_SYNTAX",
    },
  ];
  test.each(negatives)("$name → $code", async ({ run, code }) => {
    expect(await codeOf(run())).toBe(code);
  });

  test("PCR 15 extended (node initialized) no longer matches PCR15 = 0", async () => {
    await extendPcr(tpm, 15, [{ hashAlg: TPM_ALG.SHA256, digest: new Uint8Array(32).fill(0x15) }]);
    const n2 = new Uint8Array(32).fill(0x33);
    const d2 = await createQemuVtpmIssuer({ tpm }).issue(userData, n2);
    expect(await codeOf(createQemuVtpmValidator({ policy }).validate(d2, n2))).toBe("MEASUREMENT_MISMATCH");
  });

  test("event log: replays → accepted; a log the PCRs do not show → EVENT_LOG_MISMATCH", async () => {
    const log = new EventLogWriter([TPM_ALG.SHA256]);
    await measureEvent(tpm, log, {
      pcrIndex: 9,
      eventType: EV.IPL,
      data: new TextEncoder().encode("initrd"),
      measured: new Uint8Array(64).fill(9),
    });
    const n3 = new Uint8Array(32).fill(0x34);
    const withLog = await createQemuVtpmIssuer({ tpm, readEventLog: async () => log.bytes() }).issue(
      userData,
      n3,
    );
    const anyPolicy: AttestationPolicy = { measurements: new Map() };
    const claims = await createQemuVtpmValidator({ policy: anyPolicy }).validate(withLog, n3);
    expect(claims.details["eventLogVerified"]).toBe(true);
    log.append({ pcrIndex: 9, eventType: EV.IPL, data: new TextEncoder().encode("not measured") });
    const lying = await createQemuVtpmIssuer({ tpm, readEventLog: async () => log.bytes() }).issue(
      userData,
      n3,
    );
    expect(await codeOf(createQemuVtpmValidator({ policy: anyPolicy }).validate(lying, n3))).toBe(
      "EVENT_LOG_MISMATCH",
    );
  });

  test("attestation with only a SHA-1 quote fails (HASH_NOT_ALLOWED)", async () => {
    const n4 = new Uint8Array(32).fill(0x41);
    const sel = [{ hash: TPM_ALG.SHA1, pcrSelect: [0, 1, 2, 3, 4, 5, 6, 7] }];
    const ak = await createAttestationKey(tpm);
    try {
      const q = await quote(tpm, {
        ak,
        pcrs: sel,
        qualifyingData: tpmQualifyingData(makeExtraData(userData, n4)),
      });
      const pcrs1 = (await readPcrs(tpm, sel)).get(TPM_ALG.SHA1) ?? new Map();
      const evidence = vtpmEvidenceToJson({
        akPublic: encode(TPMT_PUBLIC, ak.public),
        quotes: [{ attest: q.attest, signature: q.signature, bank: "sha1", pcrs: pcrs1 }],
        intermediates: [],
      });
      const d = serializeAttestationDocument({ variant: "qemu-vtpm", userData, nonce: n4, evidence });
      expect(await codeOf(createQemuVtpmValidator({ policy }).validate(d, n4))).toBe("HASH_NOT_ALLOWED");
    } finally {
      await flush(tpm, ak.handle);
    }
  });

  test("concurrent issues on one TPM are serialized and all validate", async () => {
    const nonces = [0x51, 0x52, 0x53, 0x54].map((b) => new Uint8Array(32).fill(b));
    const issuer = createQemuVtpmIssuer({ tpm });
    const docs = await Promise.all(nonces.map((n) => issuer.issue(userData, n)));
    const anyPolicy: AttestationPolicy = { measurements: new Map() };
    for (const [i, d] of docs.entries()) {
      await createQemuVtpmValidator({ policy: anyPolicy }).validate(d, nonces[i] as Uint8Array);
    }
  });

  test("evidence JSON round-trips", () => {
    const e = parseVtpmEvidence(parseAttestationDocument(doc).evidence);
    expect(parseVtpmEvidence(vtpmEvidenceToJson(e))).toEqual(e);
  });
});
