import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { link, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { fromBase64, toBase64 } from "@asterism/bytes";
import * as v from "valibot";
import { KeyStoreError } from "./errors.ts";
import { type DataKeyStore, STORE_KEY_RE, type StoredValue } from "./store.ts";

/** On-disk envelope of one entry: a monotonic revision counter and the value. */
const FileEntrySchema = v.strictObject({
  revision: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(Number.MAX_SAFE_INTEGER)),
  value: v.pipe(v.string(), v.maxLength(1 << 20)),
});
const SUFFIX = ".json";
const TEMP_PREFIX = ".tmp-";
/** Entries are small (a wrapped key is < 5 KiB); refuse to read anything much larger. */
const MAX_ENTRY_BYTES = 2 << 20;
/** Temp files older than this are leftovers of a crash (a live write takes milliseconds). */
const STALE_TEMP_MS = 60_000;

/**
 * A {@link DataKeyStore} in a directory, one `<key>.json` file per entry.
 *
 * Writes go to a temp file that is fsynced, renamed over the entry and followed by an fsync of the
 * directory, so a crash (or SIGKILL) leaves either the old or the new entry, never a torn one. Leftover
 * temp files from a crash are removed when the store is opened.
 *
 * Concurrency: every write is serialized within the process. Create-if-absent (`compareAndSwap(k, null,
 * …)`) is also atomic across processes (link(2) refuses to replace), so two KMS processes racing to
 * create one data key cannot both win. Updates of existing entries (`put`, CAS on a revision) are
 * atomic but only checked within one process: run one updater (one `kms rotate-kek`) at a time. The KMS
 * server itself never updates an existing entry. The Kubernetes backend gives full cross-process CAS.
 */
export function createFileKeyStore(dir: string): DataKeyStore {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Temp files of a crashed writer; young ones may belong to another live process mid-write.
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      // Another process may rename or remove its temp file between readdir and stat: that is its
      // write completing, not a failure of ours (found by the 4-process race test under load).
      const mtime = statSync(join(dir, name), { throwIfNoEntry: false })?.mtimeMs;
      if (mtime !== undefined && mtime < cutoff) rmSync(join(dir, name), { force: true });
    }
  } catch (cause) {
    throw new KeyStoreError("IO_FAILED", "Cannot open key store directory", { actual: dir, cause });
  }
  let chain: Promise<unknown> = Promise.resolve();
  // One write at a time: read-compare-write must not interleave with another write.
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  };
  const pathOf = (key: string) => {
    if (!STORE_KEY_RE.test(key)) {
      throw new KeyStoreError("INVALID_STORE_KEY", "Cannot use store key", {
        expected: STORE_KEY_RE.source,
        actual: JSON.stringify(key.slice(0, 40)),
      });
    }
    return join(dir, key + SUFFIX);
  };

  async function read(key: string): Promise<{ revision: number; value: Uint8Array } | undefined> {
    const path = pathOf(key);
    let text: string;
    try {
      const fh = await open(path, "r");
      try {
        const st = await fh.stat();
        if (st.size > MAX_ENTRY_BYTES) {
          throw new KeyStoreError("CORRUPT_RECORD", `Cannot read store entry ${key}`, {
            expected: `at most ${MAX_ENTRY_BYTES} bytes`,
            actual: `${st.size} bytes`,
          });
        }
        text = await readFile(fh, "utf8");
      } finally {
        await fh.close();
      }
    } catch (cause) {
      if (cause instanceof KeyStoreError) throw cause;
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new KeyStoreError("IO_FAILED", `Cannot read store entry ${key}`, { cause });
    }
    try {
      const entry = v.parse(FileEntrySchema, JSON.parse(text));
      return { revision: entry.revision, value: fromBase64(entry.value) };
    } catch (cause) {
      throw new KeyStoreError("CORRUPT_RECORD", `Cannot parse store entry ${key}`, {
        expected: '{"revision": n, "value": base64}',
        cause,
      });
    }
  }

  /**
   * Write an entry through a fsynced temp file. `exclusive`: create only if absent, via link(2), which
   * fails with EEXIST instead of replacing, so creation is atomic across processes too (returns
   * undefined when the entry already exists). Otherwise rename(2) replaces the entry atomically.
   */
  async function write(
    key: string,
    revision: number,
    value: Uint8Array,
    exclusive: boolean,
  ): Promise<string | undefined> {
    const path = pathOf(key);
    const tmp = join(dir, `${TEMP_PREFIX}${key}-${crypto.randomUUID()}`);
    let created = true;
    try {
      const fh = await open(tmp, "wx", 0o600);
      try {
        await fh.writeFile(JSON.stringify({ revision, value: toBase64(value) }));
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (exclusive) {
        try {
          await link(tmp, path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          created = false;
        }
        await unlink(tmp);
      } else {
        await rename(tmp, path);
      }
      const dh = await open(dir, "r");
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch (cause) {
      await unlink(tmp).catch(() => undefined);
      throw new KeyStoreError("IO_FAILED", `Cannot write store entry ${key}`, { cause });
    }
    return created ? String(revision) : undefined;
  }

  return {
    async get(key): Promise<StoredValue | undefined> {
      const e = await read(key);
      return e === undefined ? undefined : { value: e.value, revision: String(e.revision) };
    },
    put: (key, value) =>
      serial(async () => {
        const cur = await read(key);
        return (await write(key, (cur?.revision ?? 0) + 1, value, false))!;
      }),
    compareAndSwap: (key, expected, value) =>
      serial(async () => {
        const cur = await read(key);
        const now = cur === undefined ? null : String(cur.revision);
        if (now !== expected) return undefined;
        return write(key, (cur?.revision ?? 0) + 1, value, expected === null);
      }),
    async list() {
      try {
        return (await readdir(dir))
          .filter((n) => n.endsWith(SUFFIX) && !n.startsWith(TEMP_PREFIX))
          .map((n) => n.slice(0, -SUFFIX.length))
          .filter((k) => STORE_KEY_RE.test(k))
          .sort();
      } catch (cause) {
        throw new KeyStoreError("IO_FAILED", "Cannot list key store", { cause });
      }
    },
  };
}

/** An in-memory {@link DataKeyStore} for tests and single-process tools. */
export function createMemoryKeyStore(): DataKeyStore {
  const m = new Map<string, { revision: number; value: Uint8Array }>();
  const check = (key: string) => {
    if (!STORE_KEY_RE.test(key)) throw new KeyStoreError("INVALID_STORE_KEY", "Cannot use store key");
  };
  return {
    async get(key) {
      check(key);
      const e = m.get(key);
      return e === undefined ? undefined : { value: e.value.slice(), revision: String(e.revision) };
    },
    async put(key, value) {
      check(key);
      const revision = (m.get(key)?.revision ?? 0) + 1;
      m.set(key, { revision, value: value.slice() });
      return String(revision);
    },
    async compareAndSwap(key, expected, value) {
      check(key);
      const cur = m.get(key);
      if ((cur === undefined ? null : String(cur.revision)) !== expected) return undefined;
      const revision = (cur?.revision ?? 0) + 1;
      m.set(key, { revision, value: value.slice() });
      return String(revision);
    },
    async list() {
      return [...m.keys()].sort();
    },
  };
}
