/**
 * Key material for the KMS: Constellation-compatible HKDF derivations with named, versioned purposes,
 * the master secret file, key-encryption keys (PKCS#11 HSM or in-memory AES-KW) with a data-key framing
 * that binds each wrapped key to its id, a narrow store for wrapped data keys (file-backed), and
 * crash-safe KEK rotation.
 *
 * Secrets never enter error messages; secrets are compared in constant time; buffers that held key
 * material are wiped when this module owns them (best effort in JavaScript).
 *
 * @example
 * const master = parseMasterSecret(await Bun.file("mastersecret.json").bytes());
 * const keys = await ClusterKeys.create(master.key, master.salt); // wipes master.key
 * const diskKey = await keys.derive({ purpose: "diskKey", id: "12345678-1234-1234-1234-123456789abc" });
 *
 * @module
 */
export { createAesKwKek } from "./aes-kw-kek.ts";
export {
  CURRENT_VERSION,
  DEK_PREFIX,
  DERIVATION_CONTEXTS,
  type DerivationContext,
  type DerivationPurpose,
  isDataKeyId,
  LOWER_UUID_RE,
  MAX_DATA_KEY_LENGTH,
  NAMED_ID_RE,
} from "./contexts.ts";
export {
  ClusterKeys,
  type DeriveKeyOptions,
  deriveClusterId,
  deriveKey,
  hkdfSha256,
  MAX_SECRET_LENGTH,
} from "./derive.ts";
export {
  KekError,
  type KekErrorCode,
  KeyStoreError,
  type KeyStoreErrorCode,
  KeysError,
  type KeysErrorCode,
} from "./errors.ts";
export { createFileKeyStore, createMemoryKeyStore } from "./file-store.ts";
export {
  createKekRing,
  DATA_KEY_PAYLOAD,
  type KekRing,
  type KeyEncryptionKey,
  requireKek,
  unwrapDataKey,
  wrapDataKey,
} from "./kek.ts";
export {
  type MasterSecret,
  type MasterSecretFile,
  MasterSecretFileSchema,
  parseMasterSecret,
  serializeMasterSecret,
} from "./master-secret.ts";
export { openPkcs11Keks, type Pkcs11KekOptions, type Pkcs11KekProvider } from "./pkcs11-kek.ts";
export { type DataKeyStore, STORE_KEY_RE, type StoredValue } from "./store.ts";
export {
  type DataKeyRecord,
  DataKeyRecordSchema,
  type RotateOptions,
  type RotationEvent,
  type RotationSummary,
  rotateDataKeys,
  UserManagedKeys,
  type UserManagedKeysDeps,
  verifyDataKeys,
} from "./user-keys.ts";
