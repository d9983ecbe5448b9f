// Test-only: builds tiny ECDSA P-256 certificates and CRLs with WebCrypto, for revocation tests that have no
// real AMD vector (external VECTORS.md §1.3: "No real AMD KDS CRL file was found").
import { encodeTlv, TAG } from "./der.ts";
import { bufferSource } from "./signature.ts";

const cat = (...p: Uint8Array[]) => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of p) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};
const seq = (...p: Uint8Array[]) => encodeTlv(TAG.SEQUENCE, cat(...p));
const int = (n: number) => encodeTlv(TAG.INTEGER, new Uint8Array([n]));
// ecdsa-with-SHA256 1.2.840.10045.4.3.2
const ECDSA_SHA256 = seq(
  encodeTlv(TAG.OID, new Uint8Array([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])),
);
const cn = (s: string) =>
  seq(
    encodeTlv(
      TAG.SET,
      seq(
        encodeTlv(TAG.OID, new Uint8Array([0x55, 0x04, 0x03])),
        encodeTlv(TAG.UTF8_STRING, new TextEncoder().encode(s)),
      ),
    ),
  );
const utc = (s: string) => encodeTlv(TAG.UTC_TIME, new TextEncoder().encode(s));

function rawToDer(raw: Uint8Array): Uint8Array {
  const part = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = b.subarray(i);
    if ((v[0] as number) & 0x80) v = cat(new Uint8Array([0]), v);
    return encodeTlv(TAG.INTEGER, v);
  };
  return seq(part(raw.subarray(0, 32)), part(raw.subarray(32)));
}

async function sign(key: CryptoKey, tbs: Uint8Array): Promise<Uint8Array> {
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, bufferSource(tbs)),
  );
  return seq(tbs, ECDSA_SHA256, encodeTlv(TAG.BIT_STRING, cat(new Uint8Array([0]), rawToDer(raw))));
}

export interface TestCa {
  readonly certDer: Uint8Array;
  issue(name: string, serial: number): Promise<Uint8Array>;
  crl(revokedSerials: number[], thisUpdate: string, nextUpdate: string): Promise<Uint8Array>;
}

/** A self-signed CA named `name`, valid 2024-01-01 .. 2034-01-01. */
export async function createTestCa(name: string): Promise<TestCa> {
  const kp = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", kp.publicKey));
  const cert = async (subject: string, serial: number, key: Uint8Array) =>
    sign(
      kp.privateKey,
      seq(
        encodeTlv(0xa0, int(2)),
        int(serial),
        ECDSA_SHA256,
        cn(name),
        seq(utc("240101000000Z"), utc("340101000000Z")),
        cn(subject),
        key,
      ),
    );
  const certDer = await cert(name, 1, spki);
  return {
    certDer,
    async issue(subject, serial) {
      const leaf = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
        "sign",
        "verify",
      ])) as CryptoKeyPair;
      return cert(subject, serial, new Uint8Array(await crypto.subtle.exportKey("spki", leaf.publicKey)));
    },
    async crl(revoked, thisUpdate, nextUpdate) {
      const entries = revoked.map((s) => seq(int(s), utc(thisUpdate)));
      return sign(
        kp.privateKey,
        seq(
          int(1),
          ECDSA_SHA256,
          cn(name),
          utc(thisUpdate),
          utc(nextUpdate),
          ...(entries.length ? [seq(...entries)] : []),
        ),
      );
    },
  };
}
