import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { concat } from "@asterism/bytes";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import {
  activateCredential,
  type ClosableTpm,
  createAttestationKey,
  createEk,
  digest,
  EK_AUTH_POLICY_SHA256,
  evictControl,
  extendPcr,
  flush,
  getCapability,
  getRandom,
  hashInfo,
  isTpmRc,
  makeCredential,
  makeCredentialSoftware,
  nvReadPublic,
  objectName,
  openSwtpm,
  pcrEvent,
  persistentAttestationKey,
  QuoteVerificationError,
  quote,
  quoteWithPcrs,
  readPcrs,
  readPublic,
  TPM_ALG,
  TPM_CAP,
  TPM_RC,
  TpmError,
  verifyQuote,
} from "./index.ts";

let sw: SwtpmInstance;
let tpm: ClosableTpm;
const SHA256 = hashInfo("sha256")!;

beforeAll(async () => {
  sw = await startSwtpm();
  tpm = await openSwtpm(sw);
});

afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

async function transientHandles(): Promise<number[]> {
  const { data } = await getCapability(tpm, TPM_CAP.HANDLES, 0x80000000, 64);
  return data.data as number[];
}

describe("swtpm commands", () => {
  test("GetRandom returns the requested length across several calls", async () => {
    const r = await getRandom(tpm, 100);
    expect(r.length).toBe(100);
  });

  test("GetCapability(PCRS) lists the sha1 and sha256 banks", async () => {
    const { data } = await getCapability(tpm, TPM_CAP.PCRS, 0, 1);
    const banks = (data.data as { hash: number }[]).map((s) => s.hash);
    expect(banks).toContain(TPM_ALG.SHA256);
    expect(banks).toContain(TPM_ALG.SHA1);
  });

  test("PCR_Extend gives H(old ‖ digest) and PCR_Read reads it back", async () => {
    const before = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [16] }]))
      .get(TPM_ALG.SHA256)
      ?.get(16) as Uint8Array;
    const d = digest(SHA256, new TextEncoder().encode("measurement"));
    await extendPcr(tpm, 16, [{ hashAlg: TPM_ALG.SHA256, digest: d }]);
    const after = (await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [16] }]))
      .get(TPM_ALG.SHA256)
      ?.get(16);
    expect(after).toEqual(digest(SHA256, before, d));
  });

  test("PCR_Event hashes the data in every bank", async () => {
    const data = new TextEncoder().encode("event data");
    const digests = await pcrEvent(tpm, 16, data);
    expect(digests.find((d) => d.hashAlg === TPM_ALG.SHA256)?.digest).toEqual(digest(SHA256, data));
  });

  test("PCR_Read of more than 8 PCRs in two banks loops until complete", async () => {
    const all = Array.from({ length: 24 }, (_, i) => i);
    const banks = await readPcrs(tpm, [
      { hash: TPM_ALG.SHA1, pcrSelect: all },
      { hash: TPM_ALG.SHA256, pcrSelect: all },
    ]);
    expect(banks.get(TPM_ALG.SHA1)?.size).toBe(24);
    expect(banks.get(TPM_ALG.SHA256)?.size).toBe(24);
  });

  test.each(["rsa", "ecc"] as const)("EK %s follows the EK Credential Profile template", async (alg) => {
    const ek = await createEk(tpm, alg);
    try {
      expect(ek.public.authPolicy).toEqual(EK_AUTH_POLICY_SHA256);
      expect(ek.public.objectAttributes.restricted).toBe(1);
      expect(ek.public.objectAttributes.decrypt).toBe(1);
      expect(ek.name).toEqual(objectName(ek.public));
      const rp = await readPublic(tpm, ek.handle);
      expect(rp.name).toEqual(ek.name);
      // Same template, same seed: the EK is reproducible.
      const again = await createEk(tpm, alg);
      await flush(tpm, again.handle);
      expect(again.name).toEqual(ek.name);
    } finally {
      await flush(tpm, ek.handle);
    }
  });

  test.each(["rsa", "ecc"] as const)(
    "%s AK quote verifies with verifyQuote; tampering is caught",
    async (alg) => {
      const ak = await createAttestationKey(tpm, { alg });
      try {
        const sel = [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 7, 16] }];
        const nonce = await getRandom(tpm, 32);
        const q = await quote(tpm, { ak, pcrs: sel, qualifyingData: nonce });
        const pcrs = await readPcrs(tpm, sel);
        const v = await verifyQuote({
          akPublic: ak.public,
          attest: q.attest,
          signature: q.signature,
          nonce,
          pcrs,
        });
        expect(v.attest.qualifiedSigner.length).toBe(34);
        const wrongNonce = verifyQuote({
          akPublic: ak.public,
          attest: q.attest,
          signature: q.signature,
          nonce: new Uint8Array(32),
          pcrs,
        });
        await expect(wrongNonce).rejects.toMatchObject({ code: "NONCE_MISMATCH" });
        const sig = q.signature.slice();
        sig[sig.length - 5] = (sig[sig.length - 5] ?? 0) ^ 1;
        const bad = verifyQuote({ akPublic: ak.public, attest: q.attest, signature: sig, nonce, pcrs });
        await expect(bad).rejects.toBeInstanceOf(QuoteVerificationError);
        await expect(bad).rejects.toMatchObject({ code: "SIGNATURE_INVALID" });
      } finally {
        await flush(tpm, ak.handle);
      }
    },
  );

  test("quoteWithPcrs returns PCR values that verify against the quote", async () => {
    const ak = await createAttestationKey(tpm, { alg: "ecc" });
    try {
      const sel = [
        { hash: TPM_ALG.SHA1, pcrSelect: [0, 16] },
        { hash: TPM_ALG.SHA256, pcrSelect: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16] },
      ];
      const nonce = await getRandom(tpm, 32);
      const { quote: q, pcrs } = await quoteWithPcrs(tpm, { ak, pcrs: sel, qualifyingData: nonce });
      const v = await verifyQuote({
        akPublic: ak.public,
        attest: q.attest,
        signature: q.signature,
        nonce,
        pcrs,
        expectedSelection: sel,
      });
      expect(v.pcrs.get(TPM_ALG.SHA256)?.size).toBe(11);
    } finally {
      await flush(tpm, ak.handle);
    }
  });

  test.each(["rsa", "ecc"] as const)(
    "MakeCredential/ActivateCredential binds the AK to the %s EK",
    async (alg) => {
      const ek = await createEk(tpm, alg);
      const ak = await createAttestationKey(tpm, { alg });
      try {
        const secret = await getRandom(tpm, 32);
        const cred = await makeCredential(tpm, ek, secret, ak.name);
        expect(await activateCredential(tpm, { ak, ek, credential: cred })).toEqual(secret);
        // A credential made for another name is refused by the TPM.
        const other = concat(ak.name.subarray(0, 33), new Uint8Array([(ak.name[33] ?? 0) ^ 1]));
        const wrong = await makeCredential(tpm, ek, secret, other);
        const err = await activateCredential(tpm, { ak, ek, credential: wrong }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TpmError);
        expect((err as TpmError).code).toBe("TPM_RC");
      } finally {
        await flush(tpm, ak.handle);
        await flush(tpm, ek.handle);
      }
    },
  );

  test("NV_ReadPublic of an undefined index decodes TPM_RC_HANDLE on handle 1", async () => {
    const err = await nvReadPublic(tpm, 0x01c00002).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TpmError);
    expect(isTpmRc(err, TPM_RC.HANDLE)).toBe(true);
    expect((err as TpmError).rc?.subject).toEqual({ kind: "handle", index: 1 });
  });
});

describe("persistent attestation key", () => {
  test("persistentAttestationKey creates the AK once, reuses it, quotes with it and refuses a foreign key", async () => {
    const handle = 0x81000a60;
    const first = await persistentAttestationKey(tpm, { alg: "ecc", handle });
    const t0 = performance.now();
    const again = await persistentAttestationKey(tpm, { alg: "ecc", handle });
    expect(performance.now() - t0).toBeLessThan(50);
    expect(again.handle).toBe(handle);
    expect(again.name).toEqual(first.name);
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const sel = [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 16] }];
    const q = await quote(tpm, { ak: again, pcrs: sel, qualifyingData: nonce });
    await verifyQuote({
      akPublic: again.public,
      attest: q.attest,
      signature: q.signature,
      nonce,
      pcrs: await readPcrs(tpm, sel),
    });
    // An RSA AK asked for at a handle holding the ECC one: refused, not overwritten.
    const err = await persistentAttestationKey(tpm, { alg: "rsa", handle }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TpmError);
    expect((err as TpmError).code).toBe("UNSUPPORTED");
    expect((await persistentAttestationKey(tpm, { alg: "ecc", handle })).name).toEqual(first.name);
    const bad = await persistentAttestationKey(tpm, { handle: 0x80000001 }).catch((e: unknown) => e);
    expect((bad as TpmError).code).toBe("INVALID_ARGUMENT");
    // Remove it again (EvictControl on a persistent handle deletes it).
    await evictControl(tpm, handle, handle);
    expect(isTpmRc(await readPublic(tpm, handle).catch((e: unknown) => e), TPM_RC.HANDLE)).toBe(true);
  });
});

describe("software MakeCredential", () => {
  test.each(["rsa", "ecc"] as const)(
    "a credential made without a TPM for a %s EK activates on the TPM",
    async (alg) => {
      const ek = await createEk(tpm, alg);
      const ak = await createAttestationKey(tpm, { alg: "ecc" });
      try {
        const secret = crypto.getRandomValues(new Uint8Array(32));
        const cred = await makeCredentialSoftware(ek.public, secret, ak.name);
        expect(await activateCredential(tpm, { ak, ek, credential: cred })).toEqual(secret);
        // The same credential bound to another name is refused (integrity HMAC covers the name).
        const other = await makeCredentialSoftware(
          ek.public,
          secret,
          objectName({ ...ak.public, authPolicy: new Uint8Array(32) }),
        );
        const err = await activateCredential(tpm, { ak, ek, credential: other }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TpmError);
      } finally {
        await flush(tpm, ak.handle);
        await flush(tpm, ek.handle);
      }
    },
  );
});

describe("cleanup", () => {
  // Runs last in this file: every EK, AK and policy session created above must be gone.
  test("every transient object and session was flushed", async () => {
    expect(await transientHandles()).toEqual([]);
    const { data } = await getCapability(tpm, TPM_CAP.HANDLES, 0x03000000, 64);
    expect(data.data).toEqual([]);
  });
});
