/**
 * Named, versioned HKDF contexts (house style §16). Every `info` string the project derives with lives
 * here, so a reviewer can check them against Constellation in one place.
 *
 * Version 1 of every purpose is byte-for-byte Constellation's scheme (reference/constellation.md §6.1,
 * `rfc/001-key-derivation.md`): `info = "key-" + id`, case-sensitive, so a Constellation master secret
 * unlocks the same disks. A later version would get a new entry here; old versions stay so that keys
 * derived under them can still be reproduced.
 */

/** Constellation's `DEKPrefix`: every KMS info string starts with it. */
export const DEK_PREFIX = "key-";

/** Largest data key the KMS hands out (bytes). HKDF-SHA256 itself stops at 255 × 32 = 8160. */
export const MAX_DATA_KEY_LENGTH = 4096;

/** Lower-case RFC 9562 UUID text form, as LUKS2 prints it; the info string is case-sensitive. */
export const LOWER_UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Named data-key ids: a letter, then letters, digits or `_`; at most 64 characters. */
export const NAMED_ID_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** How one purpose turns an optional id into an HKDF info string. */
export interface DerivationContext {
  /** Purpose name, e.g. `"diskKey"`. */
  readonly purpose: string;
  /** Scheme version; v1 is Constellation's. */
  readonly version: number;
  /** Fixed output length in bytes, or `undefined` when the caller chooses (1–{@link MAX_DATA_KEY_LENGTH}). */
  readonly length: number | undefined;
  /** The ids this purpose accepts, or `undefined` when it takes no id. */
  readonly id: { readonly accepts: (id: string) => boolean; readonly describe: string } | undefined;
  /** The HKDF info string for `id` (already validated). */
  info(id: string | undefined): string;
}

const fixed = (purpose: string, info: string): DerivationContext => ({
  purpose,
  version: 1,
  length: 32,
  id: undefined,
  info: () => info,
});

/**
 * Every derivation purpose and its versions.
 *
 * - `diskKey` v1: state-disk key, info `key-<lower-case LUKS2 UUID>`, 32 bytes.
 * - `measurementSecret` v1: info `key-measurementSecret`, 32 bytes (secret = master key, salt = master salt).
 * - `clusterId` v1: info `key-clusterID`, 32 bytes; secret = measurement secret, salt = measurement salt.
 * - `emergencySsh` v1: Ed25519 seed of the emergency SSH CA, info `key-ca_emergency_ssh`, 32 bytes.
 * - `dataKey` v1: the KMS API's generic data key, info `key-<id>` where id is a lower-case UUID or a named
 *   id, caller-chosen length — what Constellation's KeyService computed for `GetDataKey{id, length}`.
 */
export const DERIVATION_CONTEXTS = {
  diskKey: {
    1: {
      purpose: "diskKey",
      version: 1,
      length: 32,
      id: { accepts: (id: string) => LOWER_UUID_RE.test(id), describe: "a lower-case UUID" },
      info: (id: string | undefined) => `${DEK_PREFIX}${id ?? ""}`,
    },
  },
  measurementSecret: { 1: fixed("measurementSecret", `${DEK_PREFIX}measurementSecret`) },
  clusterId: { 1: fixed("clusterId", `${DEK_PREFIX}clusterID`) },
  emergencySsh: { 1: fixed("emergencySsh", `${DEK_PREFIX}ca_emergency_ssh`) },
  dataKey: {
    1: {
      purpose: "dataKey",
      version: 1,
      length: undefined,
      id: { accepts: (id: string) => isDataKeyId(id), describe: "a lower-case UUID or a named id" },
      info: (id: string | undefined) => `${DEK_PREFIX}${id ?? ""}`,
    },
  },
} as const satisfies Record<string, Record<number, DerivationContext>>;

/** Name of a derivation purpose. */
export type DerivationPurpose = keyof typeof DERIVATION_CONTEXTS;

/** The newest version of every purpose; what `deriveKey` uses when no version is given. */
export const CURRENT_VERSION: Readonly<Record<DerivationPurpose, number>> = {
  diskKey: 1,
  measurementSecret: 1,
  clusterId: 1,
  emergencySsh: 1,
  dataKey: 1,
};

/** True for a valid KMS data-key id: a lower-case UUID or a named id. */
export function isDataKeyId(id: string): boolean {
  return LOWER_UUID_RE.test(id) || NAMED_ID_RE.test(id);
}
