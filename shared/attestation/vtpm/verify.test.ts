import { beforeAll, describe, expect, test } from "bun:test";
import { codeOfAsync as codeOf, readTestdata } from "@asterism/testing";
import { parseEventLog } from "@asterism/tpm";
import type { AkCertTrust } from "./ak-cert.ts";
import type { VtpmEvidence } from "./evidence.ts";
import { GCE, GCE_NOW, gceEvidence, gceTrust } from "./gce-vectors.test-helper.ts";
import { type AkTrust, verifyVtpmEvidence } from "./verify.ts";

// external/VECTORS.md §3.1, go-tpm-tools server/verify_test.go.
const NONCE_9009 = new Uint8Array([0x90, 0x09]);
let trust: AkCertTrust;
let nonce9009: VtpmEvidence;
let noNonce: VtpmEvidence;
let akSpki: Uint8Array;
beforeAll(async () => {
  trust = await gceTrust();
  nonce9009 = await gceEvidence("gce-cos-85-nonce9009");
  noNonce = await gceEvidence("gce-cos-85-no-nonce");
  const pem = new TextDecoder().decode(
    await readTestdata(...GCE, "attestations", "decoded", "gce-cos-85-nonce9009", "ak_pub.pem"),
  );
  akSpki = new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64"));
});

const cert = (): AkTrust => ({ kind: "certificate", trust });

describe("verifyVtpmEvidence() on GCE vectors", () => {
  test("TestVerifyAttestationWithCerts: nonce9009 verifies via the AK certificate chain", async () => {
    const v = await verifyVtpmEvidence(nonce9009, {
      qualifyingData: NONCE_9009,
      akTrust: cert(),
      now: GCE_NOW,
    });
    expect(v.akTrusted).toBe(true);
    expect([...v.banks.keys()].sort()).toEqual(["sha256", "sha384"]);
    expect(v.ignoredBanks).toEqual(["sha1"]);
    expect(Buffer.from(v.banks.get("sha256")?.get(2) ?? []).toString("hex")).toBe(
      "3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969",
    );
  });

  test("the embedded event log replays to the quoted PCRs 0-9 of every bank", async () => {
    const v = await verifyVtpmEvidence(nonce9009, {
      qualifyingData: NONCE_9009,
      akTrust: cert(),
      now: GCE_NOW,
    });
    expect(v.eventLogVerified).toBe(true);
    expect(v.explainedPcrs?.get("sha256")).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(v.explainedPcrs?.get("sha384")).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("TestVerifyAttestationWithCerts: no-nonce verifies with an empty nonce", async () => {
    const v = await verifyVtpmEvidence(noNonce, {
      qualifyingData: new Uint8Array(),
      akTrust: cert(),
      now: GCE_NOW,
    });
    expect(v.banks.has("sha256")).toBe(true);
  });

  test("pinned AK key (ak_pub.pem) is trusted without a certificate", async () => {
    const v = await verifyVtpmEvidence({ ...nonce9009, akCert: undefined } as VtpmEvidence, {
      qualifyingData: NONCE_9009,
      akTrust: { kind: "keys", spkis: [akSpki] },
      now: GCE_NOW,
    });
    expect(v.akTrusted).toBe(true);
  });

  test("TestVerifyAttestationHashAlgo: SHA-256 alone and SHA-384 alone succeed", async () => {
    for (const bank of ["sha256", "sha384"] as const) {
      const e = await gceEvidence("gce-cos-85-no-nonce", [bank]);
      const v = await verifyVtpmEvidence(e, {
        qualifyingData: new Uint8Array(),
        akTrust: cert(),
        now: GCE_NOW,
      });
      expect([...v.banks.keys()]).toEqual([bank]);
    }
  });

  test("TestVerifyAttestationHashAlgo: SHA-1 alone only when allowed", async () => {
    const e = await gceEvidence("gce-cos-85-no-nonce", ["sha1"]);
    const opts = { qualifyingData: new Uint8Array(), akTrust: cert(), now: GCE_NOW };
    expect(await codeOf(verifyVtpmEvidence(e, opts))).toBe("HASH_NOT_ALLOWED");
    const v = await verifyVtpmEvidence(e, { ...opts, allowSha1: true });
    expect([...v.banks.keys()]).toEqual(["sha1"]);
  });

  const flip = (b: Uint8Array, i: number) => {
    const c = b.slice();
    const at = i < 0 ? c.length + i : i;
    c[at] = (c[at] as number) ^ 0x01;
    return c;
  };
  const withQuote = (e: VtpmEvidence, bank: string, patch: Partial<VtpmEvidence["quotes"][number]>) => ({
    ...e,
    quotes: e.quotes.map((q) => (q.bank === bank ? { ...q, ...patch } : q)),
  });

  const negatives: { name: string; run: () => Promise<unknown>; code: string }[] = [
    {
      name: "wrong nonce",
      run: () =>
        verifyVtpmEvidence(nonce9009, {
          qualifyingData: new Uint8Array([0x90, 0x08]),
          akTrust: cert(),
          now: GCE_NOW,
        }),
      code: "BINDING_MISMATCH",
    },
    {
      name: "nonce zero-padded (no padding tolerance)",
      run: () =>
        verifyVtpmEvidence(nonce9009, {
          qualifyingData: new Uint8Array([0x90, 0x09, 0]),
          akTrust: cert(),
          now: GCE_NOW,
        }),
      code: "BINDING_MISMATCH",
    },
    {
      name: "TestValidateAK: no roots",
      run: () =>
        verifyVtpmEvidence(nonce9009, {
          qualifyingData: NONCE_9009,
          akTrust: { kind: "certificate", trust: { roots: [] } },
          now: GCE_NOW,
        }),
      code: "AK_UNTRUSTED",
    },
    {
      name: "TestValidateAK: roots but no intermediates",
      run: () =>
        verifyVtpmEvidence(nonce9009, {
          qualifyingData: NONCE_9009,
          akTrust: { kind: "certificate", trust: { roots: trust.roots } },
          now: GCE_NOW,
        }),
      code: "AK_CERT_INVALID",
    },
    {
      name: "TestValidateAK: unrelated trusted AK",
      run: async () => {
        const kp = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
        const other = new Uint8Array(await crypto.subtle.exportKey("spki", kp.publicKey));
        return verifyVtpmEvidence(nonce9009, {
          qualifyingData: NONCE_9009,
          akTrust: { kind: "keys", spkis: [other] },
          now: GCE_NOW,
        });
      },
      code: "AK_UNTRUSTED",
    },
    {
      name: "certificate trust but no AK certificate in evidence",
      run: () =>
        verifyVtpmEvidence({ ...nonce9009, akCert: undefined } as VtpmEvidence, {
          qualifyingData: NONCE_9009,
          akTrust: cert(),
          now: GCE_NOW,
        }),
      code: "AK_UNTRUSTED",
    },
    {
      name: "tampered quote (TPMS_ATTEST byte)",
      run: () =>
        verifyVtpmEvidence(
          withQuote(nonce9009, "sha256", {
            attest: flip(nonce9009.quotes[1]?.attest ?? new Uint8Array(), -3),
          }),
          {
            qualifyingData: NONCE_9009,
            akTrust: cert(),
            now: GCE_NOW,
          },
        ),
      code: "QUOTE_SIGNATURE_INVALID",
    },
    {
      name: "tampered signature",
      run: () =>
        verifyVtpmEvidence(
          withQuote(nonce9009, "sha384", {
            signature: flip(nonce9009.quotes[2]?.signature ?? new Uint8Array(), -1),
          }),
          { qualifyingData: NONCE_9009, akTrust: cert(), now: GCE_NOW },
        ),
      code: "QUOTE_SIGNATURE_INVALID",
    },
    {
      name: "tampered PCR value",
      run: () => {
        const q = nonce9009.quotes[1];
        const pcrs = new Map(q?.pcrs);
        pcrs.set(4, flip(pcrs.get(4) ?? new Uint8Array(32), 0));
        return verifyVtpmEvidence(withQuote(nonce9009, "sha256", { pcrs }), {
          qualifyingData: NONCE_9009,
          akTrust: cert(),
          now: GCE_NOW,
        });
      },
      code: "PCR_DIGEST_MISMATCH",
    },
    {
      name: "PCR value dropped",
      run: () => {
        const pcrs = new Map(nonce9009.quotes[1]?.pcrs);
        pcrs.delete(23);
        return verifyVtpmEvidence(withQuote(nonce9009, "sha256", { pcrs }), {
          qualifyingData: NONCE_9009,
          akTrust: cert(),
          now: GCE_NOW,
        });
      },
      code: "QUOTE_INVALID",
    },
    {
      name: "quotes of the two attestations swapped (other nonce)",
      run: () =>
        verifyVtpmEvidence(
          { ...nonce9009, quotes: noNonce.quotes },
          { qualifyingData: NONCE_9009, akTrust: cert(), now: GCE_NOW },
        ),
      code: "BINDING_MISMATCH",
    },
    {
      name: "event log with one digest byte changed",
      run: () => {
        const log = (nonce9009.eventLog as Uint8Array).slice();
        // TCG_PCR_EVENT2: pcrIndex(4) eventType(4) count(4), then alg(2) ‖ digest per bank (sha1 first, 20 bytes):
        // flip the first SHA-256 digest byte of the first PCR 4 event, so PCR 4 no longer replays.
        const ev = parseEventLog(log).events.find((e) => e.pcrIndex === 4);
        const at = (ev?.offset ?? 0) + 12 + 2 + 20 + 2;
        log[at] = (log[at] as number) ^ 0xff;
        return verifyVtpmEvidence(
          { ...nonce9009, eventLog: log },
          { qualifyingData: NONCE_9009, akTrust: cert(), now: GCE_NOW },
        );
      },
      code: "EVENT_LOG_MISMATCH",
    },
    {
      name: "garbage event log",
      run: () =>
        verifyVtpmEvidence(
          { ...nonce9009, eventLog: new Uint8Array([1, 2, 3, 4, 5]) },
          { qualifyingData: NONCE_9009, akTrust: cert(), now: GCE_NOW },
        ),
      code: "INVALID_EVIDENCE",
    },
    {
      name: "malformed AK public",
      run: () =>
        verifyVtpmEvidence(
          { ...nonce9009, akPublic: new Uint8Array([0, 1, 0, 11]) },
          {
            qualifyingData: NONCE_9009,
            akTrust: cert(),
            now: GCE_NOW,
          },
        ),
      code: "INVALID_EVIDENCE",
    },
  ];
  test.each(negatives)("$name → $code", async ({ run, code }) => {
    expect(await codeOf(run())).toBe(code);
  });
});
