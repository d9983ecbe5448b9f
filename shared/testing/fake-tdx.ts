/**
 * Test-only (TDX): a fake Intel PKI (root, PCK CA, PCK leaf with SGX extensions, TCB signer) that issues
 * quotes and collateral built with the module's own field tables. Real vectors cannot reach positive
 * paths whose REPORTDATA we must choose (qemu-tdx/azure-tdx bindings) nor a revoked PCK; this can.
 * Everything is signed for real, so the verifier runs unchanged with `root: fake.root`.
 */
import "reflect-metadata";
import { concat, toHex } from "@asterism/bytes";
import { encode } from "@asterism/codec";
import {
  type Collateral,
  INTEL_QE_VENDOR_ID,
  QE_REPORT_CERTIFICATION_DATA,
  TD_QUOTE_HEADER_V4,
  TD_QUOTE_V4,
  TD_REPORT_BODY_10,
  type TdReportBody,
} from "@asterism/tdx";
import {
  BasicConstraintsExtension,
  Extension,
  type X509Certificate,
  X509CertificateGenerator,
  X509CrlGenerator,
} from "@peculiar/x509";

function ab(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u.buffer instanceof ArrayBuffer ? (u as Uint8Array<ArrayBuffer>) : new Uint8Array(u);
}
async function sha256(d: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", ab(d)));
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const QE_MRSIGNER = "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5";

// --- a tiny DER writer for the SGX extension -------------------------------------------------------
function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return concat(new Uint8Array([tag, ...len]), content);
}
const seq = (...items: Uint8Array[]) => tlv(0x30, concat(...items));
const oct = (b: Uint8Array) => tlv(0x04, b);
const int = (n: number) => tlv(0x02, new Uint8Array(n >= 0x80 ? [0, n] : [n]));
function oid(s: string): Uint8Array {
  const [a = 0, b = 0, ...rest] = s.split(".").map(Number);
  const out = [a * 40 + b];
  for (const arc of rest) {
    const bytes = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, new Uint8Array(out));
}

/** Parameters of the fake platform. */
export interface FakePlatform {
  readonly fmspc: string;
  readonly pceId: string;
  readonly sgxSvns: readonly number[];
  readonly pceSvn: number;
  readonly qeIsvSvn: number;
}

const DEFAULT_PLATFORM: FakePlatform = {
  fmspc: "50806f000000",
  pceId: "0000",
  sgxSvns: [5, 5, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0],
  pceSvn: 11,
  qeIsvSvn: 4,
};

function sgxExtension(p: FakePlatform): Uint8Array {
  const base = "1.2.840.113741.1.13.1";
  const tcb = seq(
    ...p.sgxSvns.map((s, i) => seq(oid(`${base}.2.${i + 1}`), int(s))),
    seq(oid(`${base}.2.17`), int(p.pceSvn)),
    seq(oid(`${base}.2.18`), oct(new Uint8Array(p.sgxSvns))),
  );
  return seq(
    seq(oid(`${base}.1`), oct(new Uint8Array(16).fill(1))),
    seq(oid(`${base}.2`), tcb),
    seq(oid(`${base}.3`), oct(Buffer.from(p.pceId, "hex"))),
    seq(oid(`${base}.4`), oct(Buffer.from(p.fmspc, "hex"))),
    seq(oid(`${base}.5`), tlv(0x0a, new Uint8Array([1]))),
  );
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
}

const VALID_FROM = new Date("2020-01-01T00:00:00Z");
const VALID_TO = new Date("2040-01-01T00:00:00Z");

/** A TD report body with recognisable values; override any field. */
export function fakeTdxBody(over: Partial<TdReportBody> = {}): TdReportBody {
  const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
  return {
    teeTcbSvn: new Uint8Array([3, 0, 4, ...new Array(13).fill(0)]),
    mrSeam: fill(48, 0x5e),
    mrSignerSeam: fill(48, 0),
    seamAttributes: fill(8, 0),
    tdAttributes: new Uint8Array([0, 0, 0, 0x40, 0, 0, 0, 0]),
    xfam: new Uint8Array([0xe7, 0x1a, 0x06, 0, 0, 0, 0, 0]),
    mrTd: fill(48, 0x11),
    mrConfigId: fill(48, 0),
    mrOwner: fill(48, 0),
    mrOwnerConfig: fill(48, 0),
    rtmr0: fill(48, 0x20),
    rtmr1: fill(48, 0x21),
    rtmr2: fill(48, 0x22),
    rtmr3: fill(48, 0),
    reportData: fill(64, 0),
    ...over,
  };
}

/** The fake PKI and its issuing functions. */
export interface FakeTdx {
  readonly root: X509Certificate;
  readonly rootPem: string;
  readonly platform: FakePlatform;
  /** A signed v4 quote over `body`. */
  quote(body: TdReportBody): Promise<Uint8Array>;
  /** Collateral: TCB info with one UpToDate level at the platform's SVNs, TD_QE identity, CRLs. */
  collateral(opts?: { revokeLeaf?: boolean; revokePckCa?: boolean; tcbStatus?: string }): Promise<Collateral>;
}

/** Create a fresh fake PKI (keys are generated per call: a few ms). */
export async function createFakeTdx(platform: FakePlatform = DEFAULT_PLATFORM): Promise<FakeTdx> {
  const [rootKeys, caKeys, leafKeys, tcbKeys, attKeys] = await Promise.all([
    keyPair(),
    keyPair(),
    keyPair(),
    keyPair(),
    keyPair(),
  ]);
  const caExt = [new BasicConstraintsExtension(true, undefined, true)];
  const root = await X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: "01",
      name: "CN=Fake SGX Root CA",
      notBefore: VALID_FROM,
      notAfter: VALID_TO,
      signingAlgorithm: SIGN,
      keys: rootKeys,
      extensions: caExt,
    },
    crypto,
  );
  const issue = (
    serial: string,
    name: string,
    keys: CryptoKeyPair,
    issuer: string,
    signer: CryptoKey,
    ext: Extension[],
  ) =>
    X509CertificateGenerator.create(
      {
        serialNumber: serial,
        subject: name,
        issuer,
        notBefore: VALID_FROM,
        notAfter: VALID_TO,
        signingAlgorithm: SIGN,
        publicKey: keys.publicKey,
        signingKey: signer,
        extensions: ext,
      },
      crypto,
    );
  const pckCa = await issue(
    "02",
    "CN=Fake SGX PCK Platform CA",
    caKeys,
    root.subject,
    rootKeys.privateKey,
    caExt,
  );
  const leaf = await issue("03", "CN=Fake SGX PCK Certificate", leafKeys, pckCa.subject, caKeys.privateKey, [
    new Extension("1.2.840.113741.1.13.1", false, ab(sgxExtension(platform))),
  ]);
  const tcbSigner = await issue(
    "04",
    "CN=Fake SGX TCB Signing",
    tcbKeys,
    root.subject,
    rootKeys.privateKey,
    [],
  );
  const pem = (...cs: X509Certificate[]) => `${cs.map((c) => c.toString("pem")).join("\n")}\n`;
  const sign = async (k: CryptoKey, data: Uint8Array) =>
    new Uint8Array(await crypto.subtle.sign(SIGN, k, ab(data)));

  async function quote(body: TdReportBody): Promise<Uint8Array> {
    const header = {
      version: 4,
      attestationKeyType: 2,
      teeType: 0x81,
      qeSvn: 0,
      pceSvn: 0,
      qeVendorId: Buffer.from(INTEL_QE_VENDOR_ID, "hex"),
      userData: new Uint8Array(20),
    };
    const attKey = new Uint8Array(await crypto.subtle.exportKey("raw", attKeys.publicKey)).subarray(1);
    const authData = new Uint8Array(32).fill(0xad);
    const qeReport = {
      cpuSvn: new Uint8Array(16),
      miscSelect: 0,
      isvExtProdId: new Uint8Array(16),
      attributes: Buffer.from("1500000000000000e700000000000000", "hex"),
      mrEnclave: new Uint8Array(32).fill(0xe1),
      mrSigner: Buffer.from(QE_MRSIGNER, "hex"),
      configId: new Uint8Array(64),
      isvProdId: 2,
      isvSvn: platform.qeIsvSvn,
      configSvn: 0,
      isvFamilyId: new Uint8Array(16),
      reportData: concat(await sha256(concat(attKey, authData)), new Uint8Array(32)),
    };
    const qeCert = {
      qeReport,
      qeReportSignature: new Uint8Array(64),
      qeAuthenticationData: authData,
      certificationData: {
        certificationDataType: 5,
        certificationData: new TextEncoder().encode(pem(leaf, pckCa, root)),
      },
    };
    const qeRaw = encode(QE_REPORT_CERTIFICATION_DATA, qeCert).subarray(0, 384);
    qeCert.qeReportSignature = await sign(leafKeys.privateKey, qeRaw);
    const signed = concat(encode(TD_QUOTE_HEADER_V4, header), encode(TD_REPORT_BODY_10, body));
    return encode(TD_QUOTE_V4, {
      header,
      body,
      signatureData: {
        quoteSignature: await sign(attKeys.privateKey, signed),
        ecdsaAttestationKey: attKey,
        certificationData: {
          certificationDataType: 6,
          certificationData: encode(QE_REPORT_CERTIFICATION_DATA, qeCert),
        },
      },
    });
  }

  async function collateral(
    o: { revokeLeaf?: boolean; revokePckCa?: boolean; tcbStatus?: string } = {},
  ): Promise<Collateral> {
    const comps = (svns: readonly number[]) => svns.map((svn) => ({ svn }));
    const tcbInfo = JSON.stringify({
      id: "TDX",
      version: 3,
      issueDate: "2024-01-01T00:00:00Z",
      nextUpdate: "2030-01-01T00:00:00Z",
      fmspc: platform.fmspc,
      pceId: platform.pceId,
      tcbType: 0,
      tcbEvaluationDataNumber: 1,
      tdxModule: {
        mrsigner: "00".repeat(48),
        attributes: "0000000000000000",
        attributesMask: "FFFFFFFFFFFFFFFF",
      },
      tcbLevels: [
        {
          tcb: {
            sgxtcbcomponents: comps(platform.sgxSvns),
            pcesvn: platform.pceSvn,
            tdxtcbcomponents: comps([3, 0, 4, ...new Array(13).fill(0)]),
          },
          tcbDate: "2024-01-01T00:00:00Z",
          tcbStatus: o.tcbStatus ?? "UpToDate",
        },
      ],
    });
    const qeIdentity = JSON.stringify({
      id: "TD_QE",
      version: 2,
      issueDate: "2024-01-01T00:00:00Z",
      nextUpdate: "2030-01-01T00:00:00Z",
      tcbEvaluationDataNumber: 1,
      miscselect: "00000000",
      miscselectMask: "FFFFFFFF",
      attributes: "11000000000000000000000000000000",
      attributesMask: "FBFFFFFFFFFFFFFF0000000000000000",
      mrsigner: QE_MRSIGNER.toUpperCase(),
      isvprodid: 2,
      tcbLevels: [
        { tcb: { isvsvn: platform.qeIsvSvn }, tcbDate: "2024-01-01T00:00:00Z", tcbStatus: "UpToDate" },
      ],
    });
    const tcbSig = toHex(await sign(tcbKeys.privateKey, new TextEncoder().encode(tcbInfo)));
    const qeSig = toHex(await sign(tcbKeys.privateKey, new TextEncoder().encode(qeIdentity)));
    const crl = (issuer: X509Certificate, key: CryptoKey, serials: string[]) =>
      X509CrlGenerator.create(
        {
          issuer: issuer.subject,
          thisUpdate: new Date("2024-01-01T00:00:00Z"),
          nextUpdate: new Date("2030-01-01T00:00:00Z"),
          signingAlgorithm: SIGN,
          signingKey: key,
          entries: serials.map((serialNumber) => ({
            serialNumber,
            revocationDate: new Date("2024-01-01T00:00:00Z"),
          })),
        },
        crypto,
      );
    const pckCrl = await crl(pckCa, caKeys.privateKey, o.revokeLeaf ? [leaf.serialNumber] : ["7f"]);
    const rootCrl = await crl(root, rootKeys.privateKey, o.revokePckCa ? [pckCa.serialNumber] : ["7e"]);
    return {
      tcb_info: `{"tcbInfo":${tcbInfo},"signature":"${tcbSig}"}`,
      tcb_info_signature: tcbSig,
      tcb_info_issuer_chain: pem(tcbSigner, root),
      qe_identity: `{"enclaveIdentity":${qeIdentity},"signature":"${qeSig}"}`,
      qe_identity_signature: qeSig,
      qe_identity_issuer_chain: pem(tcbSigner, root),
      pck_crl: toHex(new Uint8Array(pckCrl.rawData)),
      pck_crl_issuer_chain: pem(pckCa, root),
      root_ca_crl: toHex(new Uint8Array(rootCrl.rawData)),
    };
  }

  return { root, rootPem: pem(root), platform, quote, collateral };
}
