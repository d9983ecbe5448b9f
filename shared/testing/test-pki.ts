// Test-only X.509 factory: ECDSA certificates and CRLs built with WebCrypto, for chains that have no real
// vector (synthetic AMD roots, revocation). Deliberately minimal DER (RFC 5280 §4.1, §5.1).

type Curve = "P-256" | "P-384";

/** A signing key of the factory. */
export interface TestKey {
  readonly curve: Curve;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  /** SubjectPublicKeyInfo DER. */
  readonly spki: Uint8Array;
}

/** An extension to put into a certificate: `value` is the extnValue content. */
export interface TestExtension {
  readonly oid: string;
  readonly critical?: boolean;
  readonly value: Uint8Array;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** DER element: tag, definite minimal length, content. */
export function der(tag: number, value: Uint8Array): Uint8Array {
  const n = value.length;
  const len =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return cat(new Uint8Array([tag, ...len]), value);
}

const seq = (...p: Uint8Array[]) => der(0x30, cat(...p));

/** DER INTEGER of a non-negative value (minimal, with a leading zero when the top bit is set). */
export function derInteger(n: bigint | number): Uint8Array {
  let hex = BigInt(n).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b: Uint8Array = Uint8Array.from(Buffer.from(hex, "hex"));
  if ((b[0] as number) & 0x80) b = cat(new Uint8Array([0]), b);
  return der(0x02, b);
}

/** DER OBJECT IDENTIFIER from dotted form. */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [40 * (arcs[0] as number) + (arcs[1] as number)];
  for (const a of arcs.slice(2)) {
    const groups: number[] = [];
    let x = a;
    do {
      groups.unshift(x & 0x7f);
      x = Math.floor(x / 128);
    } while (x > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i] = (groups[i] as number) | 0x80;
    out.push(...groups);
  }
  return der(0x06, new Uint8Array(out));
}

/** DER IA5String. */
export function derIa5(s: string): Uint8Array {
  return der(0x16, new TextEncoder().encode(s));
}

function name(cn: string): Uint8Array {
  return seq(der(0x31, seq(derOid("2.5.4.3"), der(0x0c, new TextEncoder().encode(cn)))));
}

function time(d: Date): Uint8Array {
  const s = d.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  const y = d.getUTCFullYear();
  return y >= 1950 && y < 2050
    ? der(0x17, new TextEncoder().encode(`${s.slice(2)}Z`))
    : der(0x18, new TextEncoder().encode(`${s}Z`));
}

function sigAlg(curve: Curve): Uint8Array {
  return seq(derOid(curve === "P-384" ? "1.2.840.10045.4.3.3" : "1.2.840.10045.4.3.2"));
}

async function sign(key: TestKey, tbs: Uint8Array): Promise<Uint8Array> {
  const hash = key.curve === "P-384" ? "SHA-384" : "SHA-256";
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash }, key.privateKey, tbs as Uint8Array<ArrayBuffer>),
  );
  const half = raw.length / 2;
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    return derInteger(BigInt(`0x${Buffer.from(b.subarray(i)).toString("hex")}`));
  };
  const sig = seq(int(raw.subarray(0, half)), int(raw.subarray(half)));
  return seq(tbs, sigAlg(key.curve), der(0x03, cat(new Uint8Array([0]), sig)));
}

/** A fresh ECDSA key pair (extractable, so tests can also sign raw data with it). */
export async function createTestKey(curve: Curve = "P-256"): Promise<TestKey> {
  const kp = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", kp.publicKey));
  return { curve, privateKey: kp.privateKey, publicKey: kp.publicKey, spki };
}

/** Options of {@link buildTestCertificate}. */
export interface TestCertificateOptions {
  readonly issuer: string;
  readonly subject: string;
  readonly serial: bigint | number;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The certified key. */
  readonly subjectKey: Uint8Array;
  readonly signer: TestKey;
  readonly extensions?: readonly TestExtension[];
}

/** A v3 certificate (DER) with a single-CN issuer and subject, signed with ECDSA by `signer`. */
export function buildTestCertificate(o: TestCertificateOptions): Promise<Uint8Array> {
  const exts = o.extensions ?? [];
  const tbs = seq(
    der(0xa0, derInteger(2)),
    derInteger(o.serial),
    sigAlg(o.signer.curve),
    name(o.issuer),
    seq(time(o.notBefore), time(o.notAfter)),
    name(o.subject),
    o.subjectKey,
    ...(exts.length
      ? [
          der(
            0xa3,
            seq(
              ...exts.map((e) =>
                seq(
                  derOid(e.oid),
                  ...(e.critical ? [der(0x01, new Uint8Array([0xff]))] : []),
                  der(0x04, e.value),
                ),
              ),
            ),
          ),
        ]
      : []),
  );
  return sign(o.signer, tbs);
}

/** A v2 CRL (DER) from `issuer`, listing `revoked` serial numbers. */
export function buildTestCrl(o: {
  readonly issuer: string;
  readonly signer: TestKey;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly revoked: readonly (bigint | number)[];
}): Promise<Uint8Array> {
  const entries = o.revoked.map((s) => seq(derInteger(s), time(o.thisUpdate)));
  const tbs = seq(
    derInteger(1),
    sigAlg(o.signer.curve),
    name(o.issuer),
    time(o.thisUpdate),
    time(o.nextUpdate),
    ...(entries.length ? [seq(...entries)] : []),
  );
  return sign(o.signer, tbs);
}
