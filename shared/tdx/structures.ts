/**
 * Intel TDX quote structures as declarative field tables (one table per structure, named and ordered as
 * Intel's "Intel TDX DCAP Quoting Library API" document, Appendix A "Quote Format", names them). Every
 * reserved range is a `reserved(n)` field, so it is checked to be zero on parse.
 *
 * Byte order: every integer in a quote is little-endian; hashes, SVN arrays and attributes are raw bytes
 * in the order stored.
 */
import {
  at,
  bytes,
  type Codec,
  constant,
  type Infer,
  layout,
  reserved,
  sized,
  sizedOf,
  struct,
  u16le,
  u32le,
  union,
} from "@asterism/codec";

/** `TEE Type` of a TDX quote (Appendix A, "TD Quote Header": 0x00000081 = TDX). */
export const TEE_TYPE_TDX = 0x81;
/** `Attestation Key Type` 2 = ECDSA-256-with-P-256 curve, the only type TDX QEs use. */
export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;
/** `Certification Data Type` 5: PCK certificate chain, concatenated PEM (leaf, PCK CA, root). */
export const CERT_DATA_TYPE_PCK_CHAIN = 5;
/** `Certification Data Type` 6: QE Report Certification Data (QE report + signature + auth data + type 5). */
export const CERT_DATA_TYPE_QE_REPORT = 6;
/** v5 `TD Quote Body Descriptor` type 2: TDX 1.0 TD report body (584 bytes). */
export const BODY_TYPE_TDX_10 = 2;
/** v5 `TD Quote Body Descriptor` type 3: TDX 1.5 TD report body (648 bytes). */
export const BODY_TYPE_TDX_15 = 3;

/**
 * Bound on the signature data (quote signature + attestation key + certification data). Real quotes
 * carry about 4–5 KiB (the PEM chain dominates); 64 KiB leaves room for larger chains and bounds what a
 * hostile length field can make us allocate.
 */
export const MAX_SIGNATURE_DATA_SIZE = 64 * 1024;
/** Bound on the PEM PCK chain (type 5 data); three certificates are about 3.7 KiB. */
export const MAX_PCK_CHAIN_SIZE = 32 * 1024;
/** Bound on the QE authentication data (u16 length on the wire; real QEs send 32 bytes). */
export const MAX_QE_AUTH_DATA_SIZE = 0xffff;

/**
 * "TD Quote Header" (48 bytes; Intel TDX DCAP Quoting Library API §A.3.1), shared by versions 4 and 5. `QE SVN`/`PCE SVN` are documented
 * "only applicable for SGX quotes" and are zero in TDX quotes; we parse them (rather than require zero)
 * because the reference verifiers expose them to policy (minimum QE/PCE SVN).
 */
export function tdQuoteHeader(version: 4 | 5) {
  return layout(`TD_QUOTE_HEADER_V${version}`, 48, {
    version: at(0x00, constant(u16le, version, "Version")),
    attestationKeyType: at(0x02, constant(u16le, ATTESTATION_KEY_TYPE_ECDSA_P256, "Attestation Key Type")),
    teeType: at(0x04, constant(u32le, TEE_TYPE_TDX, "TEE Type")),
    qeSvn: at(0x08, u16le),
    pceSvn: at(0x0a, u16le),
    qeVendorId: at(0x0c, bytes(16)),
    userData: at(0x1c, bytes(20)),
  });
}
export const TD_QUOTE_HEADER_V4 = tdQuoteHeader(4);
export const TD_QUOTE_HEADER_V5 = tdQuoteHeader(5);
export type TdQuoteHeader = Infer<typeof TD_QUOTE_HEADER_V4>;

/** Fields of "TD Quote Body" (§A.3.2; TDX 1.0 TD report body, 584 bytes) at their offsets. */
const TD_REPORT_10_FIELDS = {
  teeTcbSvn: at(0x000, bytes(16)),
  mrSeam: at(0x010, bytes(48)),
  mrSignerSeam: at(0x040, bytes(48)),
  seamAttributes: at(0x070, bytes(8)),
  tdAttributes: at(0x078, bytes(8)),
  xfam: at(0x080, bytes(8)),
  mrTd: at(0x088, bytes(48)),
  mrConfigId: at(0x0b8, bytes(48)),
  mrOwner: at(0x0e8, bytes(48)),
  mrOwnerConfig: at(0x118, bytes(48)),
  rtmr0: at(0x148, bytes(48)),
  rtmr1: at(0x178, bytes(48)),
  rtmr2: at(0x1a8, bytes(48)),
  rtmr3: at(0x1d8, bytes(48)),
  reportData: at(0x208, bytes(64)),
};

/** "TD Quote Body" (§A.3.2) for TDX 1.0 (quote v4, and v5 body type 2): 584 bytes. */
export const TD_REPORT_BODY_10 = layout("TD_QUOTE_BODY_1_0", 584, TD_REPORT_10_FIELDS);

/**
 * "TD Quote Body" for TDX 1.5 (Appendix A, quote format v5, "TD Quote Body Descriptor" type 3): the 1.0 body followed by `TEE_TCB_SVN_2` and
 * `MRSERVICETD`, 648 bytes.
 */
export const TD_REPORT_BODY_15 = layout("TD_QUOTE_BODY_1_5", 648, {
  ...TD_REPORT_10_FIELDS,
  teeTcbSvn2: at(0x248, bytes(16)),
  mrServiceTd: at(0x258, bytes(48)),
});

/** A TD report body of either generation; `teeTcbSvn2`/`mrServiceTd` exist only for TDX 1.5. */
export type TdReportBody = Infer<typeof TD_REPORT_BODY_10> & {
  readonly teeTcbSvn2?: Uint8Array;
  readonly mrServiceTd?: Uint8Array;
};

/**
 * "Enclave Report Body" (Appendix A, §A.3 tables; SGX REPORTBODY, 384 bytes): the QE report inside certification data type 6.
 * Field names and reserved ranges follow sgx_report_body_t (the KSS fields isvExtProdId, configId,
 * configSvn and isvFamilyId carved out of what older revisions called reserved).
 */
export const SGX_REPORT_BODY = layout("SGX_REPORT_BODY", 384, {
  cpuSvn: at(0x000, bytes(16)),
  miscSelect: at(0x010, u32le),
  reserved1: at(0x014, reserved(12)),
  isvExtProdId: at(0x020, bytes(16)),
  attributes: at(0x030, bytes(16)),
  mrEnclave: at(0x040, bytes(32)),
  reserved2: at(0x060, reserved(32)),
  mrSigner: at(0x080, bytes(32)),
  reserved3: at(0x0a0, reserved(32)),
  configId: at(0x0c0, bytes(64)),
  isvProdId: at(0x100, u16le),
  isvSvn: at(0x102, u16le),
  configSvn: at(0x104, u16le),
  reserved4: at(0x106, reserved(42)),
  isvFamilyId: at(0x130, bytes(16)),
  reportData: at(0x140, bytes(64)),
});
export type SgxReportBody = Infer<typeof SGX_REPORT_BODY>;

/**
 * "Certification Data" (type, size, data). The data is kept as bytes here and decoded by type in a
 * second, exact decode (type 6 → {@link QE_REPORT_CERTIFICATION_DATA}, type 5 → PEM).
 */
export function certificationData(max: number) {
  return struct("CERTIFICATION_DATA", {
    certificationDataType: u16le,
    certificationData: sized(u32le, { max, name: "Certification Data" }),
  });
}

/**
 * "QE Report Certification Data" (certification data type 6): the QE's SGX report, its ECDSA
 * signature by the PCK key, the QE authentication data and the inner certification data (type 5).
 */
export const QE_REPORT_CERTIFICATION_DATA = struct("QE_REPORT_CERTIFICATION_DATA", {
  qeReport: SGX_REPORT_BODY,
  qeReportSignature: bytes(64),
  qeAuthenticationData: sized(u16le, { max: MAX_QE_AUTH_DATA_SIZE, name: "QE Authentication Data" }),
  certificationData: certificationData(MAX_PCK_CHAIN_SIZE),
});

/**
 * "ECDSA 256-bit Quote Signature Data Structure" (v4): the quote signature (raw r‖s over header‖body),
 * the attestation public key (raw x‖y) and the certification data.
 */
export const ECDSA_SIG_DATA = struct("ECDSA_256_QUOTE_SIGNATURE_DATA", {
  quoteSignature: bytes(64),
  ecdsaAttestationKey: bytes(64),
  certificationData: certificationData(MAX_SIGNATURE_DATA_SIZE),
});

/** "Quote Signature Data Len" followed by that many bytes of {@link ECDSA_SIG_DATA}, exactly. */
const SIGNATURE_DATA = sizedOf(u32le, ECDSA_SIG_DATA, {
  max: MAX_SIGNATURE_DATA_SIZE,
  name: "Quote Signature Data",
});

/** "Quote Format v4" (§A.3): header, TDX 1.0 body, "Quote Signature Data Len", signature data. */
export const TD_QUOTE_V4 = struct("TD_QUOTE_V4", {
  header: TD_QUOTE_HEADER_V4,
  body: TD_REPORT_BODY_10,
  signatureData: SIGNATURE_DATA,
});

/**
 * Quote format version 5: header, "TD Quote Body Descriptor" (type u16, size u32, body), signature data.
 * The size must equal the body type's size exactly (sizedOf); type 1 (SGX enclave report) is not a TD.
 */
export const TD_QUOTE_V5 = struct("TD_QUOTE_V5", {
  header: TD_QUOTE_HEADER_V5,
  bodyType: u16le,
  body: sizedOf(
    u32le,
    union(
      "bodyType",
      { [BODY_TYPE_TDX_10]: TD_REPORT_BODY_10, [BODY_TYPE_TDX_15]: TD_REPORT_BODY_15 },
      "TD Quote Body",
    ) as Codec<TdReportBody>,
    { max: 648, name: "TD Quote Body Descriptor" },
  ),
  signatureData: SIGNATURE_DATA,
});
