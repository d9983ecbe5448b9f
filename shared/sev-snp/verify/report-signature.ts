import type { AttestationReport } from "../abi/report.ts";
import { SIGNED_SIZE } from "../abi/report.ts";
import { SnpVerifyError } from "../errors.ts";

/** SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384 (ABI spec rev 1.57, Table 139 "Signature Algorithm Encodings"). */
export const SIG_ALGO_ECDSA_P384_SHA384 = 1;

function reversed(le: Uint8Array): Uint8Array {
  const out = new Uint8Array(le.length);
  for (let i = 0; i < le.length; i++) out[i] = le[le.length - 1 - i] as number;
  return out;
}

/**
 * The report's signature as the 96-byte big-endian r‖s WebCrypto verifies: the report stores R and S
 * little-endian, zero-extended to 72 bytes (the high 24 bytes were checked as zero when parsing).
 */
export function reportSignatureRaw(report: AttestationReport): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(96);
  out.set(reversed(report.signatureR), 0);
  out.set(reversed(report.signatureS), 48);
  return out;
}

/**
 * Verify the report's ECDSA P-384/SHA-384 signature over bytes 0x000..0x29F with `key` (the VCEK/VLEK public
 * key, imported for ECDSA P-384 verify). Throws {@link SnpVerifyError} `UNSUPPORTED_SIGNATURE_ALGO` or
 * `REPORT_SIGNATURE_INVALID`.
 */
export async function verifyReportSignature(report: AttestationReport, key: CryptoKey): Promise<void> {
  if (report.signatureAlgo !== SIG_ALGO_ECDSA_P384_SHA384)
    throw new SnpVerifyError("UNSUPPORTED_SIGNATURE_ALGO", "Cannot verify SNP report signature", {
      expected: "SIGNATURE_ALGO 1 (ECDSA P-384 with SHA-384)",
      actual: String(report.signatureAlgo),
    });
  const signed = report.raw.subarray(0, SIGNED_SIZE) as Uint8Array<ArrayBuffer>;
  const ok = await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-384" },
    key,
    reportSignatureRaw(report),
    signed,
  );
  if (!ok)
    throw new SnpVerifyError("REPORT_SIGNATURE_INVALID", "SNP report signature does not verify", {
      expected: "signed by the VCEK/VLEK",
      actual: "signature mismatch",
    });
}
