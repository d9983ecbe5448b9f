import { createHash } from "node:crypto";
import { fromBase64, fromBase64Url } from "@asterism/bytes";
import * as v from "valibot";

/** The VerificationService's purpose string (Constellation's fixed userData, reference §7). */
export const VERIFY_PURPOSE = "VerifyService";
/**
 * userData of every VerificationService document: SHA-256 of {@link VERIFY_PURPOSE} (our binding takes
 * exactly 32 bytes of userData; a label is hashed first, see @asterism/attestation binding.ts).
 */
export const VERIFY_USER_DATA: Uint8Array = new Uint8Array(
  createHash("sha256").update(VERIFY_PURPOSE).digest(),
);
/** Nonces are exactly 32 bytes (as the CLI sends); anything else is refused with 400. */
export const VERIFY_NONCE_BYTES = 32;

/** `POST /v1/attest` body. */
export const AttestRequestSchema = v.strictObject({ nonce: v.pipe(v.string(), v.maxLength(128)) });

/** Both verify endpoints answer `{"data": "<std base64 attestation document>"}` (Constellation's HTTP shape). */
export const VerifyResponseSchema = v.strictObject({
  data: v.pipe(v.string(), v.minLength(1), v.maxLength(2 * 1024 * 1024)),
});
export type VerifyResponse = v.InferOutput<typeof VerifyResponseSchema>;

/**
 * Decode a nonce from the query (`base64url`, padding optional, as Constellation's CLI sends it padded) or
 * a body (standard or URL alphabet). Returns undefined for anything but exactly 32 bytes.
 */
export function decodeNonce(s: string): Uint8Array | undefined {
  if (s.length === 0 || s.length > 128) return undefined;
  const unpadded = s.replace(/={1,2}$/, "");
  let b: Uint8Array | undefined;
  try {
    b = /[+/]/.test(unpadded) ? fromBase64(s) : fromBase64Url(unpadded);
  } catch {
    return undefined;
  }
  return b.length === VERIFY_NONCE_BYTES ? b : undefined;
}
