import { constantTimeEqual, fromBase64, fromUtf8, toBase64, utf8, wipe } from "@asterism/bytes";
import * as v from "valibot";
import { isDataKeyId, MAX_DATA_KEY_LENGTH } from "./contexts.ts";
import { KekError, KeyStoreError, KeysError } from "./errors.ts";
import { type KekRing, requireKek, unwrapDataKey, wrapDataKey } from "./kek.ts";
import type { DataKeyStore } from "./store.ts";

/**
 * One stored data key: its wraps under one or two KEK versions and which one is authoritative.
 * Two wraps exist only mid-rotation (see {@link rotateDataKeys}).
 */
export const DataKeyRecordSchema = v.strictObject({
  format: v.literal(1),
  id: v.pipe(v.string(), v.check(isDataKeyId, "invalid id")),
  length: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_DATA_KEY_LENGTH)),
  active: v.pipe(v.number(), v.integer(), v.minValue(1)),
  wraps: v.pipe(
    v.record(v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,8}$/)), v.pipe(v.string(), v.maxLength(8192))),
    v.check((w) => Object.keys(w).length >= 1 && Object.keys(w).length <= 2, "one or two wraps"),
  ),
  created: v.pipe(v.string(), v.isoTimestamp()),
});
export type DataKeyRecord = v.InferOutput<typeof DataKeyRecordSchema>;

/** Bound on compare-and-swap retries when another writer races us on the same id. */
const MAX_CAS_ATTEMPTS = 5;

function parseRecord(id: string, bytes: Uint8Array): DataKeyRecord {
  let rec: DataKeyRecord;
  try {
    rec = v.parse(DataKeyRecordSchema, JSON.parse(fromUtf8(bytes)));
  } catch (cause) {
    throw new KeyStoreError("CORRUPT_RECORD", `Cannot parse data-key record ${id}`, { cause });
  }
  if (rec.id !== id || rec.wraps[String(rec.active)] === undefined) {
    throw new KeyStoreError("CORRUPT_RECORD", `Data-key record ${id} is inconsistent`, {
      expected: "its own id and a wrap for the active version",
    });
  }
  return rec;
}

const serializeRecord = (rec: DataKeyRecord) => utf8(JSON.stringify(rec));

/** Dependencies of {@link UserManagedKeys}. */
export interface UserManagedKeysDeps {
  readonly store: DataKeyStore;
  readonly ring: () => KekRing;
  readonly randomBytes?: (n: number) => Uint8Array;
  readonly now?: () => Date;
}

function checkRequest(id: string, length: number): void {
  if (!isDataKeyId(id)) {
    throw new KeysError("INVALID_KEY_ID", "Cannot look up data key", {
      expected: "a lower-case UUID or a named id",
      actual: JSON.stringify(id.slice(0, 40)),
    });
  }
  if (!Number.isInteger(length) || length < 1 || length > MAX_DATA_KEY_LENGTH) {
    throw new KeysError("INVALID_LENGTH", "Cannot look up data key", {
      expected: `1–${MAX_DATA_KEY_LENGTH} bytes`,
      actual: String(length),
    });
  }
}

async function unwrapActive(ring: KekRing, rec: DataKeyRecord): Promise<Uint8Array> {
  const wrapped = rec.wraps[String(rec.active)];
  if (wrapped === undefined)
    throw new KeyStoreError("CORRUPT_RECORD", `Data-key record ${rec.id} has no active wrap`);
  return unwrapDataKey(requireKek(ring, rec.active), rec.id, rec.length, fromBase64(wrapped));
}

/**
 * User-managed mode: random data keys, wrapped by the HSM's KEK, stored wrapped. Creation is a
 * compare-and-swap on "absent", so two racing callers always end up with the same key (Constellation's
 * external KMS could hand out two different keys for one id: reference §6.2).
 */
export class UserManagedKeys {
  private readonly randomBytes: (n: number) => Uint8Array;
  private readonly now: () => Date;

  constructor(private readonly deps: UserManagedKeysDeps) {
    this.randomBytes = deps.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n)));
    this.now = deps.now ?? (() => new Date());
  }

  /** The stored key for `id`; `KEY_NOT_FOUND` when absent, `LENGTH_MISMATCH` when stored with another length. */
  async get(id: string, length: number): Promise<Uint8Array> {
    checkRequest(id, length);
    const cur = await this.deps.store.get(id);
    if (cur === undefined) throw new KeyStoreError("KEY_NOT_FOUND", "Cannot find data key", { actual: id });
    return this.open(parseRecord(id, cur.value), length);
  }

  /** The key for `id`, created (random, wrapped under the current KEK) if absent. */
  async getOrCreate(id: string, length: number): Promise<{ key: Uint8Array; created: boolean }> {
    checkRequest(id, length);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const cur = await this.deps.store.get(id);
      if (cur !== undefined)
        return { key: await this.open(parseRecord(id, cur.value), length), created: false };
      const ring = this.deps.ring();
      const key = this.randomBytes(length);
      const wrapped = await wrapDataKey(requireKek(ring, ring.current), id, key);
      const rec: DataKeyRecord = {
        format: 1,
        id,
        length,
        active: ring.current,
        wraps: { [String(ring.current)]: toBase64(wrapped) },
        created: this.now().toISOString(),
      };
      if ((await this.deps.store.compareAndSwap(id, null, serializeRecord(rec))) !== undefined) {
        return { key, created: true };
      }
      wipe(key); // lost the race: the winner's key is authoritative, read it on the next pass
    }
    throw new KeyStoreError("IO_FAILED", `Cannot create data key ${id}`, {
      expected: "a compare-and-swap to succeed",
      actual: `${MAX_CAS_ATTEMPTS} conflicts`,
    });
  }

  private async open(rec: DataKeyRecord, length: number): Promise<Uint8Array> {
    if (rec.length !== length) {
      throw new KeysError("LENGTH_MISMATCH", `Data key ${rec.id} exists with another length`, {
        expected: `${rec.length} bytes`,
        actual: `${length} bytes`,
      });
    }
    return unwrapActive(this.deps.ring(), rec);
  }
}

/** Progress of a rotation, one event per step per key. */
export interface RotationEvent {
  readonly id: string;
  /** `added`: new wrap stored beside the old one; `switched`: new wrap active, old removed; `current`: nothing to do. */
  readonly phase: "added" | "switched" | "current";
}

/** Options of {@link rotateDataKeys}. */
export interface RotateOptions {
  readonly store: DataKeyStore;
  readonly ring: KekRing;
  /** KEK version to move to; defaults to the ring's current version. */
  readonly target?: number;
  /** Called (and awaited) after every step; used for progress output. */
  readonly onProgress?: (event: RotationEvent) => void | Promise<void>;
}

/** Outcome of a rotation. */
export interface RotationSummary {
  readonly total: number;
  readonly rotated: number;
  readonly alreadyCurrent: number;
}

/**
 * Rewrap every stored data key under KEK version `target`, with no data key changing.
 *
 * Per key, two atomic compare-and-swap writes: (1) add the target wrap beside the active one; (2) after
 * unwrapping the new wrap and checking (constant time) that it yields the same key, make it active and
 * drop the old wrap. A crash between any two writes leaves each record readable through its `active`
 * wrap; running the rotation again resumes where it stopped (a half-done record is re-verified, and
 * rewrapped if its target wrap is bad). Old KEK versions must stay in the HSM until this returns.
 */
export async function rotateDataKeys(options: RotateOptions): Promise<RotationSummary> {
  const { store, ring } = options;
  const target = options.target ?? ring.current;
  const targetKek = requireKek(ring, target);
  let rotated = 0;
  let alreadyCurrent = 0;
  const ids = await store.list();
  for (const id of ids) {
    let done = false;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS * 2 && !done; attempt++) {
      const cur = await store.get(id);
      if (cur === undefined) {
        done = true;
        break;
      }
      const rec = parseRecord(id, cur.value);
      const targetWrap = rec.wraps[String(target)];
      if (rec.active === target) {
        if (Object.keys(rec.wraps).length === 1) {
          alreadyCurrent++;
          await options.onProgress?.({ id, phase: "current" });
          done = true;
        } else if (
          (await store.compareAndSwap(
            id,
            cur.revision,
            serializeRecord({ ...rec, wraps: { [target]: targetWrap! } }),
          )) !== undefined
        ) {
          rotated++;
          await options.onProgress?.({ id, phase: "switched" });
          done = true;
        }
        continue;
      }
      const key = await unwrapActive(ring, rec);
      try {
        let good = false;
        if (targetWrap !== undefined) {
          try {
            const again = await unwrapDataKey(targetKek, id, rec.length, fromBase64(targetWrap));
            good = constantTimeEqual(again, key);
            wipe(again);
          } catch (err) {
            if (!(err instanceof KekError) || err.code === "HSM_UNAVAILABLE") throw err;
            // A bad half-written target wrap: replace it below.
          }
        }
        if (good) {
          const next = { ...rec, active: target, wraps: { [String(target)]: targetWrap! } };
          if ((await store.compareAndSwap(id, cur.revision, serializeRecord(next))) !== undefined) {
            rotated++;
            await options.onProgress?.({ id, phase: "switched" });
            done = true;
          }
        } else {
          const wrapped = toBase64(await wrapDataKey(targetKek, id, key));
          const next = {
            ...rec,
            wraps: { [String(rec.active)]: rec.wraps[String(rec.active)]!, [String(target)]: wrapped },
          };
          if ((await store.compareAndSwap(id, cur.revision, serializeRecord(next))) !== undefined) {
            await options.onProgress?.({ id, phase: "added" });
          }
        }
      } finally {
        wipe(key);
      }
    }
    if (!done) {
      throw new KeyStoreError("IO_FAILED", `Cannot rotate data key ${id}`, {
        actual: "too many concurrent writes",
      });
    }
  }
  return { total: ids.length, rotated, alreadyCurrent };
}

/**
 * Unwrap every stored data key through its active wrap and return the ids that failed, with their
 * error codes. An empty list means every key is readable.
 */
export async function verifyDataKeys(
  store: DataKeyStore,
  ring: KekRing,
): Promise<{ readonly checked: number; readonly failures: { id: string; code: string }[] }> {
  const failures: { id: string; code: string }[] = [];
  const ids = await store.list();
  for (const id of ids) {
    try {
      const cur = await store.get(id);
      if (cur === undefined) continue;
      wipe(await unwrapActive(ring, parseRecord(id, cur.value)));
    } catch (err) {
      failures.push({ id, code: (err as { code?: string }).code ?? "UNKNOWN" });
    }
  }
  return { checked: ids.length, failures };
}
