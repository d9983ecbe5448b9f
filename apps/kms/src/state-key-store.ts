import { fromUtf8, toHex, utf8 } from "@asterism/bytes";
import { type DataKeyStore, KeyStoreError, LOWER_UUID_RE, STORE_KEY_RE } from "@asterism/keys";
import { type ClusterState, StateError } from "@asterism/state";

/** Label that marks the KMS's Secrets, so `list` never sees anybody else's. */
const LABEL = { "asterism.dev/component": "kms-data-key" } as const;
const ID_FIELD = "id";
const VALUE_FIELD = "record";
/** Longest store key we map: hex of 64 bytes plus the prefix stays well under the 253-character limit. */
const MAX_KEY = 64;

/**
 * The wrapped-data-key store on the cluster state (`@asterism/state`): one Secret per data key,
 * `asterism-dek-<uuid>` for disk UUIDs and `asterism-dek-x<hex of the id>` for named ids (Kubernetes
 * names are lower case). Creation maps to `create` (first writer wins), compare-and-swap to `update`
 * with the object version, so it is safe across processes and nodes with both backends (Kubernetes
 * resourceVersion, SQLite transactions).
 */
export function createStateKeyStore(state: ClusterState, namePrefix = "asterism-dek-"): DataKeyStore {
  const nameOf = (key: string) => {
    if (!STORE_KEY_RE.test(key) || key.length > MAX_KEY) {
      throw new KeyStoreError("INVALID_STORE_KEY", "Cannot use store key", {
        expected: `${STORE_KEY_RE.source}, at most ${MAX_KEY} characters`,
        actual: JSON.stringify(key.slice(0, 40)),
      });
    }
    return LOWER_UUID_RE.test(key) ? namePrefix + key : `${namePrefix}x${toHex(utf8(key))}`;
  };
  const data = (key: string, value: Uint8Array) => ({ [ID_FIELD]: utf8(key), [VALUE_FIELD]: value });
  const wrapErr = (err: unknown, action: string): never => {
    if (err instanceof StateError && (err.code === "INVALID_NAME" || err.code === "INVALID_DATA")) {
      throw new KeyStoreError("INVALID_STORE_KEY", action, { cause: err });
    }
    throw new KeyStoreError("IO_FAILED", action, {
      actual: err instanceof StateError ? err.code : "error",
      cause: err,
    });
  };
  const lost = (err: unknown) =>
    err instanceof StateError &&
    (err.code === "ALREADY_EXISTS" || err.code === "CONFLICT" || err.code === "NOT_FOUND");

  const store: DataKeyStore = {
    async get(key) {
      const name = nameOf(key);
      try {
        const obj = await state.get("secret", name);
        if (obj === undefined) return undefined;
        const value = obj.data[VALUE_FIELD];
        if (value === undefined)
          throw new KeyStoreError("CORRUPT_RECORD", `Secret ${name} has no ${VALUE_FIELD}`);
        return { value, revision: obj.version };
      } catch (err) {
        if (err instanceof KeyStoreError) throw err;
        return wrapErr(err, `Cannot read data key ${key}`);
      }
    },
    async compareAndSwap(key, expected, value) {
      const name = nameOf(key);
      try {
        const obj =
          expected === null
            ? await state.create("secret", name, data(key, value), { ...LABEL })
            : await state.update("secret", name, data(key, value), expected);
        return obj.version;
      } catch (err) {
        if (lost(err)) return undefined;
        return wrapErr(err, `Cannot write data key ${key}`);
      }
    },
    async put(key, value) {
      // Bounded: an unconditional write is a CAS loop that only loses to concurrent writers.
      for (let i = 0; i < 5; i++) {
        const cur = await store.get(key);
        const rev = await store.compareAndSwap(key, cur?.revision ?? null, value);
        if (rev !== undefined) return rev;
      }
      throw new KeyStoreError("IO_FAILED", `Cannot write data key ${key}`, {
        actual: "5 conflicts in a row",
      });
    },
    async list() {
      try {
        const objs = await state.list("secret", { ...LABEL });
        return objs
          .map((o) => o.data[ID_FIELD])
          .filter((id): id is Uint8Array => id !== undefined)
          .map((id) => fromUtf8(id))
          .sort();
      } catch (err) {
        return wrapErr(err, "Cannot list data keys");
      }
    },
  };
  return store;
}
