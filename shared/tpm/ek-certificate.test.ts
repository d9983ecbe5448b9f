/**
 * EK certificates on a manufactured swtpm (swtpm_setup + private swtpm_localca CA): read them from NV,
 * check their keys are the keys the standard EK template yields, and their chain to the CA.
 */
import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import * as x509 from "@peculiar/x509";
import {
  type ClosableTpm,
  createEk,
  EK_CERT_NV_INDEX_ECC_P384,
  EK_CERT_NV_INDEX_RSA,
  flush,
  nvRead,
  openSwtpm,
  readPublic,
  tpmPublicToSpki,
} from "./index.ts";

x509.cryptoProvider.set(crypto);

let sw: SwtpmInstance;
let tpm: ClosableTpm;
beforeAll(async () => {
  sw = await startSwtpm({ ekCertificates: true });
  tpm = await openSwtpm(sw);
}, 30_000);
afterAll(async () => {
  await tpm?.close();
  await sw?.stop();
});

async function chain() {
  if (!sw.ca) throw new Error("no CA");
  const root = new x509.X509Certificate(await Bun.file(sw.ca.rootCert).text());
  const issuer = new x509.X509Certificate(await Bun.file(sw.ca.issuerCert).text());
  return { root, issuer };
}

describe("EK certificates (swtpm_setup)", () => {
  test("the RSA EK certificate in NV 0x01c00002 certifies the template-L-1 EK and chains to the CA", async () => {
    const der = await nvRead(tpm, EK_CERT_NV_INDEX_RSA);
    const cert = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>);
    const ek = await createEk(tpm, "rsa");
    try {
      expect(toHex(new Uint8Array(cert.publicKey.rawData))).toBe(toHex(await tpmPublicToSpki(ek.public)));
      // swtpm_setup also persisted it at 0x81010001.
      expect((await readPublic(tpm, 0x81010001)).name).toEqual(ek.name);
    } finally {
      await flush(tpm, ek.handle);
    }
    const { root, issuer } = await chain();
    expect(await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true })).toBe(true);
    expect(await issuer.verify({ publicKey: root.publicKey, signatureOnly: true })).toBe(true);
    expect(await cert.verify({ publicKey: root.publicKey, signatureOnly: true })).toBe(false);
  });

  test("the ECC P-384 EK certificate in NV 0x01c00016 parses and chains to the CA", async () => {
    const cert = new x509.X509Certificate(
      (await nvRead(tpm, EK_CERT_NV_INDEX_ECC_P384)) as Uint8Array<ArrayBuffer>,
    );
    expect((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve).toBe("P-384");
    const { issuer } = await chain();
    expect(await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true })).toBe(true);
  });
});
