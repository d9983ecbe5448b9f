import { wipe } from "@asterism/bytes";
import { bufferSource } from "./_internal.ts";
import { KekError } from "./errors.ts";
import type { KeyEncryptionKey } from "./kek.ts";

/**
 * A KEK held in process memory, RFC 3394 AES key wrap through WebCrypto `AES-KW`. For tests and for
 * cross-checking an HSM's output against a second implementation; production user-managed mode keeps
 * the KEK in the HSM ({@link openPkcs11Keks}). The KEK bytes are wiped after import.
 */
export async function createAesKwKek(version: number, kekBytes: Uint8Array): Promise<KeyEncryptionKey> {
  const kek = await crypto.subtle.importKey("raw", bufferSource(kekBytes), "AES-KW", false, [
    "wrapKey",
    "unwrapKey",
  ]);
  wipe(kekBytes);
  return {
    version,
    async wrap(payload) {
      // WebCrypto wraps keys, not bytes: carry the payload as an extractable HMAC key of the same length.
      const carrier = await crypto.subtle.importKey(
        "raw",
        bufferSource(payload),
        { name: "HMAC", hash: "SHA-256" },
        true,
        ["sign"],
      );
      return new Uint8Array(await crypto.subtle.wrapKey("raw", carrier, kek, "AES-KW"));
    },
    async unwrap(wrapped) {
      let carrier: CryptoKey;
      try {
        carrier = await crypto.subtle.unwrapKey(
          "raw",
          bufferSource(wrapped),
          kek,
          "AES-KW",
          { name: "HMAC", hash: "SHA-256", length: (wrapped.length - 8) * 8 },
          true,
          ["sign"],
        );
      } catch (cause) {
        throw new KekError("UNWRAP_FAILED", `Cannot unwrap with KEK v${version}`, {
          expected: "an RFC 3394 blob wrapped by this KEK",
          actual: `${wrapped.length} bytes that fail the integrity check`,
          cause,
        });
      }
      return new Uint8Array(await crypto.subtle.exportKey("raw", carrier));
    },
  };
}
