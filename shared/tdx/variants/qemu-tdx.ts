import type { Validator, VerifiedClaims } from "@asterism/attestation";
import { concat, constantTimeEqual, fromBase64, toHex } from "@asterism/bytes";
import * as v from "valibot";
import { sha256 } from "../_internal.ts";
import { TdxPolicyError } from "../errors.ts";
import { createCertCache } from "../pck-chain.ts";
import { type TdxPolicy, validateQuote } from "../policy.ts";
import { MAX_QUOTE_SIZE } from "../quote.ts";
import { verifyQuote } from "../verify.ts";
import { b64, checkMeasurements, measurementsOf, parseDocument, type TdxValidatorDeps } from "./common.ts";

/** Bound on the userData a document may carry (aTLS puts a 32-byte hash there). */
const MAX_USER_DATA = 1024;

/** qemu-tdx document: `{"RawQuote": b64 quote, "UserData": b64}` (reference/constellation.md §5.2). */
export const QemuTdxDocumentSchema = v.strictObject({
  RawQuote: v.pipe(b64, v.maxLength(Math.ceil(MAX_QUOTE_SIZE / 3) * 4)),
  UserData: v.pipe(b64, v.maxLength(Math.ceil(MAX_USER_DATA / 3) * 4)),
});

/** Options of {@link createQemuTdxValidator}: the shared deps plus an optional quote policy. */
export interface QemuTdxValidatorOptions extends TdxValidatorDeps {
  /** Extra quote policy (MRSEAM, XFAM, minimum SVNs …); `reportData` must be absent (it is derived). */
  readonly policy?: Omit<TdxPolicy, "reportData">;
}

/**
 * Validator for `qemu-tdx`: verifies the quote with Intel collateral, requires REPORTDATA =
 * SHA-256(userData ‖ nonce) ‖ 32 zero bytes exactly (Constellation zero-pads extraData to 64 bytes), applies
 * the policy (debug forbidden by default) and compares measurements (0 = MRTD, 1–4 = RTMR0–3).
 */
export function createQemuTdxValidator(opts: QemuTdxValidatorOptions): Validator {
  const certCache = opts.certCache ?? createCertCache();
  return {
    variant: "qemu-tdx",
    async validate(document: Uint8Array, nonce: Uint8Array): Promise<VerifiedClaims> {
      const doc = parseDocument(QemuTdxDocumentSchema, document, "qemu-tdx document");
      const userData = fromBase64(doc.UserData);
      const verified = await verifyQuote(fromBase64(doc.RawQuote), {
        now: opts.now(),
        getCollateral: opts.getCollateral,
        certCache,
        ...(opts.root === undefined ? {} : { root: opts.root }),
        ...(opts.acceptedTcbStatuses === undefined ? {} : { acceptedTcbStatuses: opts.acceptedTcbStatuses }),
        ...(opts.acceptedQeTcbStatuses === undefined
          ? {}
          : { acceptedQeTcbStatuses: opts.acceptedQeTcbStatuses }),
      });
      const extraData = await sha256(concat(userData, nonce));
      const want = concat(extraData, new Uint8Array(32));
      if (!constantTimeEqual(want, verified.quote.body.reportData))
        throw new TdxPolicyError(
          "REPORT_DATA_MISMATCH",
          "REPORTDATA does not bind SHA-256(userData ‖ nonce)",
        );
      validateQuote(verified.quote, opts.policy ?? {});
      const measurements = measurementsOf(verified.quote.body);
      checkMeasurements(measurements, opts.measurements);
      return {
        variant: "qemu-tdx",
        userData,
        measurements,
        warnings: verified.warnings,
        details: {
          tcbStatus: verified.tcb?.status,
          qeTcbStatus: verified.qeTcb?.status,
          fmspc: verified.pck.fmspc,
          mrSeam: toHex(verified.quote.body.mrSeam),
          teeTcbSvn: toHex(verified.quote.body.teeTcbSvn),
        },
      };
    },
  };
}
