import { concat, constantTimeEqual, isAllZero, toHex } from "@asterism/bytes";
import type { X509Certificate } from "@peculiar/x509";
import { ab, sha256, verifyP256 } from "./_internal.ts";
import type { Collateral, TcbStatus } from "./collateral.ts";
import { TdxVerifyError } from "./errors.ts";
import {
  type CertCache,
  checkNotRevoked,
  ecdsaKeyOf,
  isCa,
  loadTrustedRoot,
  parseCertificate,
  verifyChain,
} from "./pck-chain.ts";
import { OID_SGX_EXTENSIONS, type PckExtensions, parsePckExtensions } from "./pck-extensions.ts";
import { parseQuote, type TdxQuote } from "./quote.ts";
import {
  DEFAULT_ACCEPTED_TCB_STATUSES,
  evaluateQeIdentity,
  evaluateTcb,
  type QeTcbEvaluation,
  type TcbEvaluation,
} from "./tcb.ts";
import { checkCollateralCurrent, type VerifiedCollateral, verifyCollateral } from "./verify-collateral.ts";

/** Options of {@link verifyQuote}. Everything that varies is injected; nothing reads the clock. */
export interface VerifyQuoteOptions {
  /** The verifier's clock (certificate validity, collateral freshness). */
  readonly now: Date;
  /** Trust anchor; default: the built-in Intel SGX Root CA. */
  readonly root?: X509Certificate;
  /**
   * Intel collateral. Absent: only signatures and the PCK chain are checked (no revocation, no TCB
   * status) and the result says `collateralChecked: false`. Pass a {@link VerifiedCollateral} from
   * `verifyCollateral` to reuse one verification across many quotes (its time windows are re-checked).
   */
  readonly collateral?: Collateral | VerifiedCollateral;
  /**
   * Fetches collateral for the quote's platform (e.g. a PCS client's `getCollateral`), used when
   * `collateral` is absent. Called after the quote itself verified, with the PCK certificate's FMSPC and
   * its issuing CA.
   */
  readonly getCollateral?: (req: CollateralRequest) => Promise<Collateral | VerifiedCollateral>;
  /** Platform TCB statuses accepted (default `["UpToDate"]`); `Revoked` is never accepted. */
  readonly acceptedTcbStatuses?: readonly TcbStatus[];
  /** QE TCB statuses accepted (default `["UpToDate"]`); `Revoked` is never accepted. */
  readonly acceptedQeTcbStatuses?: readonly TcbStatus[];
  /**
   * Memo of certificate parsing and chain-signature checks across calls (`createCertCache()`); a hit
   * skips only work whose result is a pure function of identical bytes. Default: none.
   */
  readonly certCache?: CertCache;
  /** See `CollateralOptions.allowExpiredCollateralSigner` (default false). */
  readonly allowExpiredCollateralSigner?: boolean;
}

/** An authentic quote and what Intel's collateral says about its platform. */
export interface VerifiedQuote {
  readonly quote: TdxQuote;
  readonly pck: PckExtensions;
  readonly collateralChecked: boolean;
  readonly tcb?: TcbEvaluation;
  readonly qeTcb?: QeTcbEvaluation;
  /** Non-fatal findings (unsigned trailing bytes, expired collateral signer accepted by option). */
  readonly warnings: readonly string[];
}

/** What collateral a quote needs: its FMSPC and the CA that issued its PCK certificate. */
export interface CollateralRequest {
  readonly fmspc: string;
  readonly ca: "platform" | "processor";
}

const PCK_CHAIN = { invalid: "PCK_CHAIN_INVALID", expired: "CERT_EXPIRED" } as const;
/** Intel PCK chains are exactly leaf, PCK Platform/Processor CA, root. */
const PCK_CHAIN_LENGTH = 3;

function isVerified(c: Collateral | VerifiedCollateral): c is VerifiedCollateral {
  return "tcbInfo" in c;
}

/**
 * Verify a TDX quote's authenticity (Intel TDX DCAP Quoting Library API, Appendix A; Intel QVL order):
 * 1. PCK chain (leaf → PCK CA → root) up to the trusted root, valid at `now`.
 * 2. QE report signed by the PCK leaf key (ECDSA P-256, raw r‖s).
 * 3. QE report data = SHA-256(attestation key ‖ QE authentication data) ‖ 32 zero bytes.
 * 4. Quote signature over header‖body by the attestation key.
 * 5. With collateral: collateral verified (or re-checked for time), PCK leaf and PCK CA not revoked,
 *    PCK CRL issued by the leaf's CA, TCB level and QE identity evaluated against accepted statuses.
 *
 * Throws {@link TdxParseError} or {@link TdxVerifyError}; policy (measurements) is `validateQuote`'s job.
 *
 * @example
 * const v = await verifyQuote(quoteBytes, { now: new Date(), collateral });
 * v.tcb?.status; // "UpToDate"
 */
export async function verifyQuote(
  quoteOrBytes: Uint8Array | TdxQuote,
  opts: VerifyQuoteOptions,
): Promise<VerifiedQuote> {
  const quote = quoteOrBytes instanceof Uint8Array ? parseQuote(quoteOrBytes) : quoteOrBytes;
  const root = opts.root ?? defaultRoot();
  const warnings: string[] = [];
  if (quote.trailingBytes > 0)
    warnings.push(`${quote.trailingBytes} unsigned bytes after the quote's signature data were ignored`);

  if (quote.pckChain.length !== PCK_CHAIN_LENGTH)
    throw new TdxVerifyError("PCK_CHAIN_INVALID", "Cannot validate PCK certificate chain", {
      expected: `${PCK_CHAIN_LENGTH} certificates`,
      actual: String(quote.pckChain.length),
    });
  const chain = quote.pckChain.map((d, i) =>
    parseCertificate(d, i === 0 ? "PCK leaf" : `PCK chain #${i}`, opts.certCache),
  );
  await verifyChain(chain, root, {
    now: opts.now,
    codes: PCK_CHAIN,
    what: "PCK",
    ...(opts.certCache === undefined ? {} : { cache: opts.certCache }),
  });
  const leaf = chain[0] as X509Certificate;
  if (isCa(leaf))
    throw new TdxVerifyError(
      "PCK_CHAIN_INVALID",
      "Cannot validate PCK certificate chain: the PCK leaf is a CA",
    );

  const qeOk = await verifyP256(
    await ecdsaKeyOf(leaf, "QE_REPORT_SIGNATURE_INVALID"),
    quote.qeReportSignature,
    quote.qeReportRaw,
  );
  if (!qeOk)
    throw new TdxVerifyError(
      "QE_REPORT_SIGNATURE_INVALID",
      "QE report signature does not verify with the PCK key",
    );

  const binding = await sha256(concat(quote.attestationKey, quote.qeAuthData));
  const rd = quote.qeReport.reportData;
  if (!constantTimeEqual(rd.subarray(0, 32), binding) || !isAllZero(rd.subarray(32)))
    throw new TdxVerifyError("QE_REPORT_DATA_MISMATCH", "QE report data does not bind the attestation key", {
      expected: `${toHex(binding)} followed by 32 zero bytes`,
      actual: toHex(rd),
    });

  let attKey: CryptoKey;
  try {
    attKey = await crypto.subtle.importKey(
      "raw",
      ab(concat(new Uint8Array([4]), quote.attestationKey)),
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
  } catch (cause) {
    throw new TdxVerifyError("QUOTE_SIGNATURE_INVALID", "Attestation key is not a P-256 point", { cause });
  }
  const sigOk = await verifyP256(attKey, quote.signature, quote.signedData);
  if (!sigOk)
    throw new TdxVerifyError(
      "QUOTE_SIGNATURE_INVALID",
      "Cannot verify the quote: signature over header and TD quote body does not verify with the attestation key",
    );

  const ext = leaf.getExtension(OID_SGX_EXTENSIONS);
  if (ext === null)
    throw new TdxVerifyError("PCK_EXTENSION_INVALID", "PCK certificate has no SGX extensions", {
      expected: OID_SGX_EXTENSIONS,
    });
  const pck = parsePckExtensions(new Uint8Array(ext.value));

  const given =
    opts.collateral ??
    (await opts.getCollateral?.({
      fmspc: pck.fmspc,
      ca: leaf.issuer.includes("Processor CA") ? "processor" : "platform",
    }));
  if (given === undefined) return { quote, pck, collateralChecked: false, warnings };

  const col = isVerified(given)
    ? given
    : await verifyCollateral(given, {
        root,
        now: opts.now,
        allowExpiredCollateralSigner: opts.allowExpiredCollateralSigner ?? false,
      });
  checkCollateralCurrent(col, opts.now);
  warnings.push(...col.warnings);

  const pckCa = chain[1] as X509Certificate;
  if (col.pckCrlIssuer.subject !== leaf.issuer)
    throw new TdxVerifyError("COLLATERAL_MISMATCH", "PCK CRL is for another PCK CA", {
      expected: leaf.issuer,
      actual: col.pckCrlIssuer.subject,
    });
  checkNotRevoked(col.pckCrl, leaf);
  checkNotRevoked(col.rootCrl, pckCa);

  const tcb = evaluateTcb(
    quote.body,
    pck,
    col.tcbInfo,
    opts.acceptedTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES,
  );
  const qeTcb = evaluateQeIdentity(
    quote.qeReport,
    col.qeIdentity,
    opts.acceptedQeTcbStatuses ?? DEFAULT_ACCEPTED_TCB_STATUSES,
  );
  return { quote, pck, collateralChecked: true, tcb, qeTcb, warnings };
}

let cachedRoot: X509Certificate | undefined;
function defaultRoot(): X509Certificate {
  cachedRoot ??= loadTrustedRoot();
  return cachedRoot;
}
