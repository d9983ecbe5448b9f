/**
 * Binding user data and the verifier's nonce into hardware evidence.
 *
 * Every variant computes `extraData = SHA-256(userData ‖ nonce)` (Constellation `MakeExtraData`,
 * reference/constellation.md §4) and places it into its evidence as {@link EXTRA_DATA_PLACEMENT} says.
 *
 * Unlike Constellation we require exact lengths: userData and nonce are both 32 bytes (the concatenation
 * is then unambiguous), and comparisons never zero-pad (Constellation's `CompareExtraData` did;
 * reference/style-anchors.md "Not to copy"). A caller with a label instead of a key hash (the
 * VerificationService's "VerifyService") hashes it to 32 bytes first.
 */
import { createHash } from "node:crypto";
import { concat, constantTimeEqual, toHex } from "@asterism/bytes";
import { AttestationParseError, AttestationVerifyError } from "./errors.ts";
import type { Variant } from "./variant.ts";

/** Nonce length: 32 random bytes from the verifier. */
export const NONCE_BYTES = 32;
/** User-data length: a SHA-256 (in aTLS, of the certificate's SubjectPublicKeyInfo). */
export const USER_DATA_BYTES = 32;
/** extraData length (SHA-256). */
export const EXTRA_DATA_BYTES = 32;

function requireLength(what: string, b: Uint8Array, n: number): void {
  if (b.length !== n) {
    throw new AttestationParseError("INVALID_LENGTH", `Cannot bind ${what}`, {
      expected: `${n} bytes`,
      actual: `${b.length} bytes`,
    });
  }
}

/**
 * `SHA-256(userData ‖ nonce)`, both exactly 32 bytes.
 *
 * @example
 * const extra = makeExtraData(sha256(spki), nonceFromPeer);
 */
export function makeExtraData(userData: Uint8Array, nonce: Uint8Array): Uint8Array {
  requireLength("user data", userData, USER_DATA_BYTES);
  requireLength("nonce", nonce, NONCE_BYTES);
  return new Uint8Array(createHash("sha256").update(userData).update(nonce).digest());
}

/**
 * TPM quote qualifying data for vTPM variants: `SHA-256(instanceInfo ‖ extraData)` (reference §5.1 issue
 * step 4). `instanceInfo` is the variant's instance-info bytes, empty for qemu-vtpm. Hashing it in binds
 * the (otherwise unsigned) instance info to the quote.
 */
export function tpmQualifyingData(
  extraData: Uint8Array,
  instanceInfo: Uint8Array = new Uint8Array(),
): Uint8Array {
  requireLength("extraData", extraData, EXTRA_DATA_BYTES);
  return new Uint8Array(createHash("sha256").update(instanceInfo).update(extraData).digest());
}

/** The 64-byte SNP `REPORT_DATA` / TDX `REPORTDATA` for variants that place extraData there: extraData ‖ 0³². */
export function reportDataForExtraData(extraData: Uint8Array): Uint8Array {
  requireLength("extraData", extraData, EXTRA_DATA_BYTES);
  return concat(extraData, new Uint8Array(32));
}

/** Compare a binding value found in evidence with the recomputed one, in constant time and exact length. */
export function checkBinding(what: string, expected: Uint8Array, actual: Uint8Array): void {
  if (!constantTimeEqual(expected, actual)) {
    throw new AttestationVerifyError("BINDING_MISMATCH", `Evidence is not bound to this exchange (${what})`, {
      expected: toHex(expected),
      actual: toHex(actual),
    });
  }
}

/**
 * Where each variant carries the binding (reference/constellation.md §5.1–5.2). For documentation, the
 * CLI's `--help`, and the verification result.
 */
export const EXTRA_DATA_PLACEMENT: Readonly<Record<Variant, string>> = {
  "qemu-vtpm": "TPM quote qualifying data = SHA-256(extraData) (no instance info)",
  "aws-nitro-tpm": "TPM quote qualifying data = SHA-256(instanceInfo ‖ extraData)",
  "gcp-sev-es": "TPM quote qualifying data = SHA-256(instanceInfo ‖ extraData)",
  "gcp-sev-snp":
    "TPM quote qualifying data = SHA-256(instanceInfo ‖ extraData); SNP REPORT_DATA = extraData ‖ 0³²",
  "aws-sev-snp":
    "TPM quote qualifying data = SHA-256(instanceInfo ‖ extraData); SNP REPORT_DATA = SHA-512(AK SPKI)",
  "azure-sev-snp":
    "TPM quote qualifying data = SHA-256(instanceInfo ‖ extraData); SNP REPORT_DATA[0:32] = SHA-256(HCL runtime data) which holds the AK",
  "qemu-tdx": "TDX REPORTDATA = extraData ‖ 0³²",
  "azure-tdx":
    "TPM quote qualifying data = SHA-256(instanceInfo ‖ extraData); TDX REPORTDATA[0:32] = SHA-256(HCL runtime data)",
};
