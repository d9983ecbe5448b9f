import { constantTimeEqual, toHex } from "@asterism/bytes";
import { parseCollateral, type TcbStatus } from "./collateral.ts";
import { TdxParseError, TdxPolicyError } from "./errors.ts";
import { loadTrustedRoot } from "./pck-chain.ts";
import { parseQuote } from "./quote.ts";
import { verifyQuote } from "./verify.ts";

/** Inputs of {@link verifyTdxEvidence} (what `asterism attestation verify-tdx` reads from its options). */
export interface TdxEvidenceInput {
  readonly quote: Uint8Array;
  /** The collateral JSON text (see `CollateralSchema`). */
  readonly collateralJson: string;
  /** PEM of an overriding trust anchor; absent: the built-in Intel SGX Root CA. */
  readonly rootPem?: string;
  /** Expected REPORTDATA, exactly 64 bytes. */
  readonly reportData?: Uint8Array;
  readonly now: Date;
  readonly acceptedTcbStatuses?: readonly TcbStatus[];
  readonly allowExpiredCollateralSigner?: boolean;
}

/** The summary a successful verification prints (hex for bytes). */
export interface TdxEvidenceResult {
  readonly version: number;
  readonly teeTcbSvn: string;
  readonly mrSeam: string;
  readonly mrTd: string;
  readonly rtmr: readonly string[];
  readonly tdAttributes: string;
  readonly xfam: string;
  readonly reportData: string;
  readonly fmspc: string;
  readonly tcbStatus: string | undefined;
  readonly qeTcbStatus: string | undefined;
  readonly advisoryIDs: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Verify a quote file with its collateral file, the logic behind `asterism attestation verify-tdx`:
 * parse, verify (chain, signatures, collateral, TCB), then the optional REPORTDATA binding. Throws the
 * module's coded errors; the CLI maps them to exit code 1.
 */
export async function verifyTdxEvidence(input: TdxEvidenceInput): Promise<TdxEvidenceResult> {
  let collateralJson: unknown;
  try {
    collateralJson = JSON.parse(input.collateralJson);
  } catch (cause) {
    throw new TdxParseError("COLLATERAL_MALFORMED", "Cannot parse TDX collateral: not JSON", { cause });
  }
  const collateral = parseCollateral(collateralJson);
  const quote = parseQuote(input.quote);
  const v = await verifyQuote(quote, {
    now: input.now,
    collateral,
    ...(input.rootPem === undefined ? {} : { root: loadTrustedRoot(input.rootPem) }),
    ...(input.acceptedTcbStatuses === undefined ? {} : { acceptedTcbStatuses: input.acceptedTcbStatuses }),
    allowExpiredCollateralSigner: input.allowExpiredCollateralSigner ?? false,
  });
  const b = quote.body;
  if (input.reportData !== undefined) {
    if (input.reportData.length !== 64)
      throw new TdxPolicyError("REPORT_DATA_MISMATCH", "Expected report data must be exactly 64 bytes", {
        expected: "64 bytes",
        actual: `${input.reportData.length} bytes`,
      });
    if (!constantTimeEqual(input.reportData, b.reportData))
      throw new TdxPolicyError("REPORT_DATA_MISMATCH", "REPORTDATA does not match the expected value", {
        actual: toHex(b.reportData),
      });
  }
  return {
    version: quote.version,
    teeTcbSvn: toHex(b.teeTcbSvn),
    mrSeam: toHex(b.mrSeam),
    mrTd: toHex(b.mrTd),
    rtmr: [b.rtmr0, b.rtmr1, b.rtmr2, b.rtmr3].map(toHex),
    tdAttributes: toHex(b.tdAttributes),
    xfam: toHex(b.xfam),
    reportData: toHex(b.reportData),
    fmspc: v.pck.fmspc,
    tcbStatus: v.tcb?.status,
    qeTcbStatus: v.qeTcb?.status,
    advisoryIDs: v.tcb?.advisoryIDs ?? [],
    warnings: v.warnings,
  };
}
