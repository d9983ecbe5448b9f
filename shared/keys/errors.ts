import { AsterismError } from "@asterism/errors";

/**
 * Codes raised while deriving keys or reading key material (parse and validation of inputs).
 * - `INVALID_KEY_ID`: an id is empty, too long or does not match its purpose's pattern.
 * - `INVALID_LENGTH`: a requested key length is outside 1–{@link MAX_DATA_KEY_LENGTH} (or the purpose's fixed length).
 * - `INVALID_SECRET`: a secret or salt is empty or outside its allowed length.
 * - `INVALID_MASTER_SECRET`: a master secret file is not `{"key": b64, "salt": b64}` with valid lengths.
 * - `UNKNOWN_PURPOSE`: no derivation purpose has that name.
 * - `UNKNOWN_KEY_VERSION`: the purpose (or data-key scheme) has no such version.
 * - `LENGTH_MISMATCH`: a stored data key exists under that id with another length.
 */
export type KeysErrorCode =
  | "INVALID_KEY_ID"
  | "INVALID_LENGTH"
  | "INVALID_SECRET"
  | "INVALID_MASTER_SECRET"
  | "UNKNOWN_PURPOSE"
  | "UNKNOWN_KEY_VERSION"
  | "LENGTH_MISMATCH";

/** Bad input to a key operation; the caller can fix it. Never carries key material. */
export class KeysError extends AsterismError<KeysErrorCode> {
  override readonly domain = "keys";
}

/**
 * Codes raised by key-encryption keys (HSM, PKCS#11) and wrapped-key handling.
 * - `HSM_UNAVAILABLE`: the PKCS#11 library, slot, token or session cannot be reached.
 * - `HSM_LOGIN_FAILED`: the token refused the PIN.
 * - `KEK_NOT_FOUND`: the token holds no key-encryption key with the expected label.
 * - `UNKNOWN_KEK_VERSION`: a wrapped key names a KEK version that is not in the key ring.
 * - `WRAP_FAILED`: the HSM refused to wrap.
 * - `UNWRAP_FAILED`: the wrapped blob failed the key-wrap integrity check (tampered or another KEK).
 * - `BINDING_MISMATCH`: the blob unwrapped but belongs to another key id or length (swapped records).
 */
export type KekErrorCode =
  | "HSM_UNAVAILABLE"
  | "HSM_LOGIN_FAILED"
  | "KEK_NOT_FOUND"
  | "UNKNOWN_KEK_VERSION"
  | "WRAP_FAILED"
  | "UNWRAP_FAILED"
  | "BINDING_MISMATCH";

/** A failure of the key-encryption layer. Messages name the KEK version, never key bytes. */
export class KekError extends AsterismError<KekErrorCode> {
  override readonly domain = "kek";
}

/**
 * Codes raised by a {@link DataKeyStore}.
 * - `KEY_NOT_FOUND`: no record under that id.
 * - `INVALID_STORE_KEY`: a store key does not match the store's safe name pattern.
 * - `CORRUPT_RECORD`: a stored record does not parse.
 * - `IO_FAILED`: the backing storage failed.
 */
export type KeyStoreErrorCode = "KEY_NOT_FOUND" | "INVALID_STORE_KEY" | "CORRUPT_RECORD" | "IO_FAILED";

/** A failure of the wrapped-data-key store. */
export class KeyStoreError extends AsterismError<KeyStoreErrorCode> {
  override readonly domain = "keystore";
}
