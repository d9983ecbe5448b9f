import "reflect-metadata";
import { describe, expect, test } from "bun:test";
import { codeOfAsync as codeOf } from "@asterism/testing";
import * as x509 from "@peculiar/x509";
import {
  type CheckCertificateOptions,
  checkPeerCertificate,
  DEFAULT_MAX_VALIDITY_MS,
  generateCertificateKey,
  mintCertificate,
  sha256,
} from "./certificate.ts";

const NOW = new Date("2026-11-25T00:00:00Z");
const OID = "1.3.9900.5.1";
const opts: CheckCertificateOptions = { now: NOW, understoodOids: new Set([OID]) };

/** A certificate built directly with @peculiar/x509, for shapes aTLS never mints. */
async function craft(p: {
  alg?: RsaHashedKeyGenParams | EcKeyGenParams;
  sign?: Algorithm | EcdsaParams | RsaHashedImportParams;
  issuer?: string;
  signer?: CryptoKeyPair;
  notBefore?: Date;
  notAfter?: Date;
  extensions?: x509.Extension[];
}): Promise<Uint8Array> {
  const alg = p.alg ?? { name: "ECDSA", namedCurve: "P-256" };
  const keys = (await crypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const signer = p.signer ?? keys;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: "4a",
      subject: "CN=asterism-atls",
      issuer: p.issuer ?? "CN=asterism-atls",
      notBefore: p.notBefore ?? new Date(NOW.getTime() - 60_000),
      notAfter: p.notAfter ?? new Date(NOW.getTime() + 600_000),
      signingAlgorithm: p.sign ?? { name: "ECDSA", hash: "SHA-256" },
      publicKey: keys.publicKey,
      signingKey: signer.privateKey,
      extensions: p.extensions ?? [],
    },
    crypto,
  );
  return new Uint8Array(cert.rawData);
}

describe("minted certificates", () => {
  test("are self-signed P-256, short-lived, with a random serial and the extension verbatim", async () => {
    const key = await generateCertificateKey();
    const doc = new TextEncoder().encode('{"doc":1}');
    const a = await mintCertificate(key, { now: NOW, extensions: [{ oid: OID, value: doc }] });
    const b = await mintCertificate(key, { now: NOW });
    const checked = await checkPeerCertificate(a.der, opts);
    expect(checked.spkiDigest).toEqual(key.spkiDigest);
    expect(checked.spkiDigest).toEqual(await sha256(key.spki));
    expect(checked.notBefore.getTime()).toBe(NOW.getTime() - 60_000);
    expect(checked.notAfter.getTime()).toBe(NOW.getTime() + 600_000);
    expect(checked.extensions).toEqual([{ oid: OID, critical: false, value: doc }]);
    const serial = (der: Uint8Array) => new x509.X509Certificate(der as Uint8Array<ArrayBuffer>).serialNumber;
    expect(serial(a.der)).not.toBe(serial(b.der));
    expect(serial(a.der)).toMatch(/^[4-7][0-9a-f]{31}$/);
    expect(a.keyPem).toStartWith("-----BEGIN PRIVATE KEY-----");
  });

  test("fresh keys differ per call", async () => {
    const [a, b] = await Promise.all([generateCertificateKey(), generateCertificateKey()]);
    expect(a.spkiDigest).not.toEqual(b.spkiDigest);
  });
});

describe("checkPeerCertificate rejects", () => {
  const other = () =>
    crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const cases: { name: string; make: () => Promise<Uint8Array>; wantCode: string; now?: Date }[] = [
    {
      name: "garbage bytes",
      make: async () => new Uint8Array([0x30, 0x03, 1, 2, 3]),
      wantCode: "CERT_MALFORMED",
    },
    { name: "an oversized blob", make: async () => new Uint8Array(200 * 1024), wantCode: "CERT_MALFORMED" },
    {
      name: "an RSA key",
      make: () =>
        craft({
          alg: {
            name: "RSASSA-PKCS1-v1_5",
            modulusLength: 2048,
            publicExponent: new Uint8Array([1, 0, 1]),
            hash: "SHA-256",
          },
          sign: { name: "RSASSA-PKCS1-v1_5" },
        }),
      wantCode: "CERT_MALFORMED",
    },
    {
      name: "a P-384 key",
      make: () =>
        craft({ alg: { name: "ECDSA", namedCurve: "P-384" }, sign: { name: "ECDSA", hash: "SHA-384" } }),
      wantCode: "CERT_MALFORMED",
    },
    {
      name: "ecdsa-with-SHA384 on P-256",
      make: () => craft({ sign: { name: "ECDSA", hash: "SHA-384" } }),
      wantCode: "CERT_MALFORMED",
    },
    {
      name: "issuer ≠ subject",
      make: () => craft({ issuer: "CN=some-ca" }),
      wantCode: "CERT_NOT_SELF_SIGNED",
    },
    {
      name: "a signature by another key",
      make: async () => craft({ signer: await other() }),
      wantCode: "CERT_NOT_SELF_SIGNED",
    },
    {
      name: "an expired certificate",
      make: () => craft({}),
      now: new Date(NOW.getTime() + 601_000),
      wantCode: "CERT_EXPIRED",
    },
    {
      name: "a not yet valid certificate",
      make: () => craft({}),
      now: new Date(NOW.getTime() - 61_000),
      wantCode: "CERT_NOT_YET_VALID",
    },
    {
      name: "a validity longer than allowed",
      make: () => craft({ notAfter: new Date(NOW.getTime() + DEFAULT_MAX_VALIDITY_MS) }),
      wantCode: "CERT_VALIDITY_TOO_LONG",
    },
    {
      name: "an unknown critical extension",
      make: () => craft({ extensions: [new x509.Extension("1.2.3.4", true, new Uint8Array([5, 0]))] }),
      wantCode: "CERT_UNKNOWN_CRITICAL_EXTENSION",
    },
  ];
  test.each(cases)("$name ($wantCode)", async ({ make, wantCode, now }) => {
    expect(await codeOf(checkPeerCertificate(await make(), { ...opts, now: now ?? NOW }))).toBe(wantCode);
  });

  test("accepts a critical attestation extension it understands", async () => {
    const der = await craft({ extensions: [new x509.Extension(OID, true, new Uint8Array([1]))] });
    expect(await codeOf(checkPeerCertificate(der, opts))).toBeUndefined();
  });
});
