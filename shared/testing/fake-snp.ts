// Test-only: a fake AMD SEV-SNP platform — synthetic ARK/ASK(or ASVK)/VCEK(or VLEK) with AMD's certificate
// extensions, CRLs, and reports signed like the firmware signs them. Needed for what no real vector covers:
// Turin reports, revocation, every product/version combination. The roots are ECDSA (not AMD's RSA-PSS),
// which the verifier accepts because it takes roots by injection (`trustedRoots`).
import { type Certificate, parseCertificate } from "@asterism/pki";
import {
  AMD_OID,
  type AmdTrustRoots,
  type AttestationReportFields,
  encodeTcb,
  type Product,
  parseReport,
  productKdsName,
  REPORT_SIZE,
  SIGNED_SIZE,
  serializeReport,
  type TcbParts,
} from "@asterism/sev-snp";
import {
  buildTestCertificate,
  buildTestCrl,
  createTestKey,
  derIa5,
  derInteger,
  type TestKey,
} from "./test-pki.ts";

/** Options of {@link createFakeSnpPlatform}. */
export interface FakeSnpOptions {
  readonly product: Product;
  readonly signer?: "vcek" | "vlek";
  /** The TCB the key is certified for (and the reports' TCBs by default). */
  readonly tcb?: TcbParts;
  readonly chipId?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
}

/** A fake platform: its roots (for `trustedRoots`), its key certificate, and a report signer. */
export interface FakeSnpPlatform {
  readonly product: Product;
  readonly signer: "vcek" | "vlek";
  readonly tcb: TcbParts;
  readonly chipId: Uint8Array;
  /** Pass as `createSnpVerifier({ trustedRoots })`. */
  readonly trustedRoots: AmdTrustRoots;
  readonly ark: Certificate;
  readonly intermediate: Certificate;
  /** VCEK/VLEK DER. */
  readonly endorsementKey: Uint8Array;
  /** A report template (all TCBs = `tcb`, version 2/3/5 layout) to edit before signing. */
  template(version: 2 | 3 | 5): AttestationReportFields;
  /** Serialize `fields` and sign bytes 0x000..0x29F with the VCEK/VLEK (R, S little-endian at 0x2A0/0x2E8). */
  sign(fields: AttestationReportFields): Promise<Uint8Array>;
  /** A CRL from the ARK listing `revoked` serials (the intermediate's serial is {@link INTERMEDIATE_SERIAL}). */
  crl(revoked: readonly bigint[], thisUpdate: Date, nextUpdate: Date): Promise<Uint8Array>;
}

/** Serial number of the fake ASK/ASVK. */
export const INTERMEDIATE_SERIAL = 0x1001n;

const CPUID: Record<Product, [number, number, number]> = {
  milan: [0x19, 0x01, 0x01],
  genoa: [0x19, 0x11, 0x01],
  turin: [0x1a, 0x02, 0x00],
};

const int = (n: number) => derInteger(n);

/** Create a fake platform for `product`. */
export async function createFakeSnpPlatform(o: FakeSnpOptions): Promise<FakeSnpPlatform> {
  const signer = o.signer ?? "vcek";
  const tcb: TcbParts =
    o.tcb ??
    (o.product === "turin"
      ? { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 }
      : { bootloader: 3, tee: 0, snp: 8, microcode: 115 });
  const chipId =
    o.chipId ?? (signer === "vlek" ? new Uint8Array(64) : crypto.getRandomValues(new Uint8Array(64)));
  if (o.product === "turin" && signer === "vcek") chipId.fill(0, 8);
  const notBefore = o.notBefore ?? new Date("2024-01-01T00:00:00Z");
  const notAfter = o.notAfter ?? new Date("2034-01-01T00:00:00Z");
  const P = productKdsName(o.product);
  const arkKey = await createTestKey("P-384");
  const askKey = await createTestKey("P-384");
  const leafKey: TestKey = await createTestKey("P-384");
  const arkName = `ARK-${P}`;
  const askName = signer === "vcek" ? `SEV-${P}` : `SEV-VLEK-${P}`;
  const arkDer = await buildTestCertificate({
    issuer: arkName,
    subject: arkName,
    serial: 1,
    notBefore,
    notAfter,
    subjectKey: arkKey.spki,
    signer: arkKey,
  });
  const askDer = await buildTestCertificate({
    issuer: arkName,
    subject: askName,
    serial: INTERMEDIATE_SERIAL,
    notBefore,
    notAfter,
    subjectKey: askKey.spki,
    signer: arkKey,
  });
  const spl = (oid: string, v: number) => ({ oid, value: int(v) });
  const endorsementKey = await buildTestCertificate({
    issuer: askName,
    subject: signer === "vcek" ? "SEV-VCEK" : "SEV-VLEK",
    serial: 0,
    notBefore,
    notAfter,
    subjectKey: leafKey.spki,
    signer: askKey,
    extensions: [
      { oid: AMD_OID.structVersion, value: int(1) },
      {
        oid: AMD_OID.productName,
        value: derIa5(o.product === "milan" ? "Milan-B0" : o.product === "genoa" ? "Genoa-B1" : "Turin"),
      },
      ...(o.product === "turin" ? [spl(AMD_OID.fmcSPL, tcb.fmc ?? 0)] : []),
      spl(AMD_OID.blSPL, tcb.bootloader),
      spl(AMD_OID.teeSPL, tcb.tee),
      spl(AMD_OID.snpSPL, tcb.snp),
      spl(AMD_OID.ucodeSPL, tcb.microcode),
      ...(signer === "vcek"
        ? [{ oid: AMD_OID.hwID, value: o.product === "turin" ? chipId.slice(0, 8) : chipId.slice() }]
        : [{ oid: AMD_OID.cspID, value: derIa5("CN=fake-csp.example") }]),
    ],
  });
  const ark = parseCertificate(arkDer);
  const intermediate = parseCertificate(askDer);
  const rawTcb = encodeTcb(tcb, o.product);

  return {
    product: o.product,
    signer,
    tcb,
    chipId,
    trustedRoots: {
      [o.product]: { ark, ...(signer === "vcek" ? { ask: intermediate } : { asvk: intermediate }) },
    },
    ark,
    intermediate,
    endorsementKey,
    template(version) {
      const [fam, mod, step] = CPUID[o.product];
      const base = parseReport(
        new Uint8Array(REPORT_SIZE).fill(0).map((_, i) => (i === 0 ? 2 : i === 0x0a ? 0x03 : 0)),
      );
      return {
        ...base,
        version,
        signatureAlgo: 1,
        currentTcb: rawTcb,
        reportedTcb: rawTcb,
        committedTcb: rawTcb,
        launchTcb: rawTcb,
        platformInfo: 1n,
        chipId: chipId.slice(),
        signerInfo: { authorKeyEn: 0, maskChipKey: 0, signingKey: signer === "vcek" ? 0 : 1 },
        currentMajor: 1,
        currentMinor: 58,
        committedMajor: 1,
        committedMinor: 58,
        cpuidFamId: fam,
        cpuidModId: mod,
        cpuidStep: step,
        launchMitVector: 0n,
        currentMitVector: 0n,
      } as AttestationReportFields;
    },
    async sign(fields) {
      const bytes = serializeReport({
        ...fields,
        signatureR: new Uint8Array(48),
        signatureS: new Uint8Array(48),
      });
      const raw = new Uint8Array(
        await crypto.subtle.sign(
          { name: "ECDSA", hash: "SHA-384" },
          leafKey.privateKey,
          bytes.subarray(0, SIGNED_SIZE) as Uint8Array<ArrayBuffer>,
        ),
      );
      bytes.set(raw.subarray(0, 48).reverse(), 0x2a0);
      bytes.set(raw.subarray(48).reverse(), 0x2e8);
      return bytes;
    },
    crl(revoked, thisUpdate, nextUpdate) {
      return buildTestCrl({ issuer: arkName, signer: arkKey, thisUpdate, nextUpdate, revoked });
    },
  };
}
