import { CodecError, decode, decodePrefix } from "@asterism/codec";
import { type TdxParseCode, TdxParseError } from "./errors.ts";
import { parsePemCertificates } from "./pem.ts";
import {
  BODY_TYPE_TDX_10,
  BODY_TYPE_TDX_15,
  CERT_DATA_TYPE_PCK_CHAIN,
  CERT_DATA_TYPE_QE_REPORT,
  QE_REPORT_CERTIFICATION_DATA,
  type SgxReportBody,
  TD_QUOTE_V4,
  TD_QUOTE_V5,
  type TdQuoteHeader,
  type TdReportBody,
} from "./structures.ts";

/**
 * Unsigned bytes tolerated after the declared signature data. Quote-generation interfaces hand out
 * fixed-size buffers (cos-113's quote is an 8000-byte buffer with 3065 zero bytes after the quote;
 * SPR_E4 carries 39 bytes of text), and Intel's and Google's verifiers ignore them, so rejecting them
 * would reject real evidence. They are covered by no signature and carry no meaning: we never read them,
 * report their count (`trailingBytes`), and bound them so a quote cannot smuggle arbitrary payloads.
 */
export const MAX_TRAILING_BYTES = 8192;

/** Bound on a whole quote: header, largest body, signature data and the tolerated trailing bytes. */
export const MAX_QUOTE_SIZE = 48 + 6 + 648 + 4 + 64 * 1024 + MAX_TRAILING_BYTES;

/** A parsed TDX quote (v4 or v5). Parsing passes no judgement: see `verifyQuote`. */
export interface TdxQuote {
  readonly version: 4 | 5;
  readonly header: TdQuoteHeader;
  /** 2 = TDX 1.0 body (always for v4), 3 = TDX 1.5 body. */
  readonly bodyType: 2 | 3;
  readonly body: TdReportBody;
  /** header ‖ (v5: body descriptor ‖) body: the bytes the quote signature covers. */
  readonly signedData: Uint8Array;
  /** ECDSA P-256 signature over {@link signedData}, raw r‖s (64 bytes). */
  readonly signature: Uint8Array;
  /** The attestation public key, raw x‖y (64 bytes). */
  readonly attestationKey: Uint8Array;
  readonly qeReport: SgxReportBody;
  /** The 384 QE report bytes the PCK key signed. */
  readonly qeReportRaw: Uint8Array;
  /** ECDSA P-256 signature of the QE report by the PCK leaf key, raw r‖s. */
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** DER certificates of the PCK chain as carried in the quote, leaf first. */
  readonly pckChain: readonly Uint8Array[];
  /** Count of unsigned bytes after the signature data (see {@link MAX_TRAILING_BYTES}). */
  readonly trailingBytes: number;
}

function codecToParse(err: CodecError): TdxParseError {
  const map: Record<CodecError["code"], TdxParseCode> = {
    TRUNCATED: "TRUNCATED",
    TRAILING_BYTES: "MALFORMED",
    RESERVED_NONZERO: "RESERVED_NONZERO",
    CONSTANT_MISMATCH: "UNSUPPORTED_FORMAT",
    UNKNOWN_TAG: "UNSUPPORTED_FORMAT",
    SIZE_LIMIT: "SIZE_LIMIT",
    SIZE_MISMATCH: "MALFORMED",
    INVALID_VALUE: "MALFORMED",
  };
  return new TdxParseError(map[err.code], `Cannot parse TDX quote (${err.path})`, {
    ...(err.expected === undefined ? {} : { expected: err.expected }),
    ...(err.actual === undefined ? {} : { actual: err.actual }),
    cause: err,
  });
}

function rethrow(err: unknown): never {
  if (err instanceof CodecError) throw codecToParse(err);
  throw err;
}

/**
 * Parse a TDX quote v4 or v5 (Intel TDX DCAP Quoting Library API, Appendix A), down to the PCK chain in
 * certification data type 6 → 5. Throws only {@link TdxParseError}.
 *
 * @example
 * const quote = parseQuote(await Bun.file("quote.dat").bytes());
 * quote.body.mrTd; // 48 bytes
 */
export function parseQuote(bytes: Uint8Array): TdxQuote {
  if (bytes.length > MAX_QUOTE_SIZE)
    throw new TdxParseError("SIZE_LIMIT", "Cannot parse TDX quote", {
      expected: `at most ${MAX_QUOTE_SIZE} bytes`,
      actual: `${bytes.length} bytes`,
    });
  if (bytes.length < 2)
    throw new TdxParseError("TRUNCATED", "Cannot parse TDX quote", {
      expected: "at least 2 bytes",
      actual: `${bytes.length}`,
    });
  const version = (bytes[0] ?? 0) | ((bytes[1] ?? 0) << 8);
  if (version !== 4 && version !== 5)
    throw new TdxParseError("UNSUPPORTED_VERSION", "Cannot parse TDX quote: quote format not supported", {
      expected: "version 4 or 5",
      actual: String(version),
    });

  let header: TdQuoteHeader;
  let body: TdReportBody;
  let bodyType: 2 | 3;
  let signedLength: number;
  let sig: { quoteSignature: Uint8Array; ecdsaAttestationKey: Uint8Array; certificationData: CertData };
  let consumed: number;
  try {
    if (version === 4) {
      const d = decodePrefix(TD_QUOTE_V4, bytes);
      ({ header, body } = d.value);
      sig = d.value.signatureData;
      bodyType = BODY_TYPE_TDX_10;
      signedLength = 48 + 584;
      consumed = d.consumed;
    } else {
      const d = decodePrefix(TD_QUOTE_V5, bytes);
      ({ header, body } = d.value);
      sig = d.value.signatureData;
      bodyType = d.value.bodyType === BODY_TYPE_TDX_15 ? BODY_TYPE_TDX_15 : BODY_TYPE_TDX_10;
      signedLength = 48 + 6 + (bodyType === BODY_TYPE_TDX_15 ? 648 : 584);
      consumed = d.consumed;
    }
  } catch (err) {
    rethrow(err);
  }
  const trailingBytes = bytes.length - consumed;
  if (trailingBytes > MAX_TRAILING_BYTES)
    throw new TdxParseError(
      "TRAILING_BYTES",
      "Cannot parse TDX quote: too many bytes after the signature data",
      {
        expected: `at most ${MAX_TRAILING_BYTES}`,
        actual: String(trailingBytes),
      },
    );

  const qe = parseQeCertificationData(sig.certificationData);
  return {
    version,
    header,
    bodyType,
    body,
    signedData: bytes.slice(0, signedLength),
    signature: sig.quoteSignature,
    attestationKey: sig.ecdsaAttestationKey,
    ...qe,
    trailingBytes,
  };
}

interface CertData {
  certificationDataType: number;
  certificationData: Uint8Array;
}

function parseQeCertificationData(cd: CertData) {
  if (cd.certificationDataType !== CERT_DATA_TYPE_QE_REPORT)
    throw new TdxParseError("UNSUPPORTED_FORMAT", "Cannot parse TDX quote certification data", {
      expected: `type ${CERT_DATA_TYPE_QE_REPORT} (QE Report Certification Data)`,
      actual: `type ${cd.certificationDataType}`,
    });
  let qe: ReturnType<typeof decodeQe>;
  try {
    qe = decodeQe(cd.certificationData);
  } catch (err) {
    rethrow(err);
  }
  const inner = qe.certificationData;
  if (inner.certificationDataType !== CERT_DATA_TYPE_PCK_CHAIN)
    throw new TdxParseError("UNSUPPORTED_FORMAT", "Cannot parse QE report certification data", {
      expected: `type ${CERT_DATA_TYPE_PCK_CHAIN} (PCK certificate chain)`,
      actual: `type ${inner.certificationDataType}`,
    });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(inner.certificationData);
  } catch (cause) {
    throw new TdxParseError("MALFORMED", "Cannot parse PCK certificate chain: not UTF-8", { cause });
  }
  const pckChain = parsePemCertificates(text, "PCK certificate chain");
  return {
    qeReport: qe.qeReport,
    qeReportRaw: cd.certificationData.slice(0, 384),
    qeReportSignature: qe.qeReportSignature,
    qeAuthData: qe.qeAuthenticationData,
    pckChain,
  };
}

function decodeQe(b: Uint8Array) {
  return decode(QE_REPORT_CERTIFICATION_DATA, b);
}
