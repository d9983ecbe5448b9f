import { type ClusterKeys, KeysError, type UserManagedKeys } from "@asterism/keys";

/** Where the KMS's data keys come from; the app only sees this. */
export interface KeySource {
  /** `cluster`: derived from the master secret; `user`: random, wrapped by an HSM KEK and stored. */
  readonly mode: "cluster" | "user";
  /** The key for `id`; in user mode `KEY_NOT_FOUND` when it was never created. */
  get(id: string, length: number, version: number): Promise<Uint8Array>;
  /** The key for `id`, created first if needed (cluster mode: the same as {@link get}). */
  getOrCreate(id: string, length: number, version: number): Promise<{ key: Uint8Array; created: boolean }>;
  /** True when keys can be served right now (the HSM answers). */
  ready(): Promise<boolean>;
}

/** Data-key scheme version of user-managed keys (random, KEK-wrapped). */
const USER_SCHEME_VERSION = 1;

/** Cluster-managed keys: `dataKey` v1 = HKDF(master, salt, "key-" + id, length), Constellation's scheme. */
export function createClusterKeySource(keys: ClusterKeys): KeySource {
  const get = (id: string, length: number, version: number) =>
    keys.derive({ purpose: "dataKey", id, length, version });
  return {
    mode: "cluster",
    get,
    getOrCreate: async (id, length, version) => ({ key: await get(id, length, version), created: false }),
    ready: async () => true,
  };
}

/** User-managed keys; `probe` touches the HSM (e.g. builds the KEK ring) and throws when it is unreachable. */
export function createUserKeySource(keys: UserManagedKeys, probe: () => unknown): KeySource {
  const checkVersion = (version: number) => {
    if (version !== USER_SCHEME_VERSION) {
      throw new KeysError("UNKNOWN_KEY_VERSION", "Cannot serve data key", {
        expected: `version ${USER_SCHEME_VERSION}`,
        actual: String(version),
      });
    }
  };
  return {
    mode: "user",
    get: async (id, length, version) => {
      checkVersion(version);
      return keys.get(id, length);
    },
    getOrCreate: async (id, length, version) => {
      checkVersion(version);
      return keys.getOrCreate(id, length);
    },
    ready: async () => {
      try {
        probe();
        return true;
      } catch {
        return false;
      }
    },
  };
}
