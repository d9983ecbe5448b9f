// Test-only: a small AK certificate authority (root → intermediate → AK certificate) built with
// @peculiar/x509, to exercise certificate-based AK trust on swtpm-issued evidence. The AK certificate can
// carry a GCE instance-info extension like Google's.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { GCE_INSTANCE_INFO_OID } from "./gce-instance.ts";

x509.cryptoProvider.set(crypto);

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const NOT_BEFORE = new Date("2024-01-01T00:00:00Z");
const NOT_AFTER = new Date("2034-01-01T00:00:00Z");

function tlv(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const head = n < 0x80 ? [tag, n] : n < 0x100 ? [tag, 0x81, n] : [tag, 0x82, n >> 8, n & 0xff];
  return new Uint8Array([...head, ...value]);
}
const utf8 = (s: string) => tlv(0x0c, new TextEncoder().encode(s));
const int = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, "hex");
  if ((b[0] as number) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, new Uint8Array(b));
};
const seq = (...parts: Uint8Array[]) => tlv(0x30, new Uint8Array(parts.flatMap((p) => [...p])));

/** DER of a GCE instance-info extension value. */
export function gceInstanceInfoDer(i: { zone: string; projectId: string; instanceName: string }): Uint8Array {
  const props = seq(tlv(0xa0, int(0n)), tlv(0xa1, tlv(0x01, new Uint8Array([0xff]))));
  return seq(
    utf8(i.zone),
    int(117478743145n),
    utf8(i.projectId),
    int(5780156274199835632n),
    utf8(i.instanceName),
    tlv(0xa0, props),
  );
}

export interface TestAkCa {
  readonly rootDer: Uint8Array;
  readonly intermediateDer: Uint8Array;
  /** Issue an AK certificate for `akSpki` (DER SPKI of an RSA key). */
  issueAk(
    akSpki: Uint8Array,
    gce?: { zone: string; projectId: string; instanceName: string },
  ): Promise<Uint8Array>;
}

export async function createTestAkCa(): Promise<TestAkCa> {
  const rootKeys = (await crypto.subtle.generateKey(EC, false, ["sign", "verify"])) as CryptoKeyPair;
  const intKeys = (await crypto.subtle.generateKey(EC, false, ["sign", "verify"])) as CryptoKeyPair;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=Test EK/AK CA Root",
    keys: rootKeys,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
  });
  const inter = await x509.X509CertificateGenerator.create({
    subject: "CN=Test EK/AK CA Intermediate",
    issuer: root.subject,
    publicKey: intKeys.publicKey,
    signingKey: rootKeys.privateKey,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    signingAlgorithm: EC,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
  });
  return {
    rootDer: new Uint8Array(root.rawData),
    intermediateDer: new Uint8Array(inter.rawData),
    async issueAk(akSpki, gce) {
      const pub = await crypto.subtle.importKey(
        "spki",
        akSpki as Uint8Array<ArrayBuffer>,
        { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        true,
        ["verify"],
      );
      const cert = await x509.X509CertificateGenerator.create({
        subject: "CN=AK",
        issuer: inter.subject,
        publicKey: pub,
        signingKey: intKeys.privateKey,
        notBefore: NOT_BEFORE,
        notAfter: NOT_AFTER,
        signingAlgorithm: EC,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          ...(gce
            ? [
                new x509.Extension(
                  GCE_INSTANCE_INFO_OID,
                  false,
                  gceInstanceInfoDer(gce) as Uint8Array<ArrayBuffer>,
                ),
              ]
            : []),
        ],
      });
      return new Uint8Array(cert.rawData);
    },
  };
}
