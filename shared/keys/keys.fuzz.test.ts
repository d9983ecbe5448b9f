/**
 * Untrusted inputs of the keys module only ever raise its typed errors: master secret files, wrapped
 * blobs (possibly tampered), store records, derivation requests.
 */
import { describe, expect, test } from "bun:test";
import { toBase64, utf8 } from "@asterism/bytes";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import {
  createAesKwKek,
  createKekRing,
  createMemoryKeyStore,
  deriveKey,
  KekError,
  KeyStoreError,
  KeysError,
  parseMasterSecret,
  UserManagedKeys,
  unwrapDataKey,
  wrapDataKey,
} from "./index.ts";

function expectTyped(
  err: unknown,
  classes: (new (...a: never[]) => Error)[],
  codes: readonly string[],
): void {
  expect(classes.some((c) => err instanceof c)).toBe(true);
  expect(codes).toContain((err as { code: string }).code);
}

describe("keys fuzz", () => {
  test("parseMasterSecret: random and mutated files → INVALID_MASTER_SECRET only", () => {
    const valid = JSON.stringify({
      key: toBase64(new Uint8Array(32).fill(1)),
      salt: toBase64(new Uint8Array(32).fill(2)),
    });
    const input = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.json(),
      fc.uint8Array({ maxLength: 300 }),
      fc
        .tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }))
        .map(([i, c]) => utf8(valid.slice(0, i) + String.fromCharCode(c) + valid.slice(i + 1))),
    );
    fc.assert(
      fc.property(input, (s) => {
        try {
          const m = parseMasterSecret(s);
          expect(m.key.length).toBeGreaterThanOrEqual(16);
          expect(m.salt.length).toBeGreaterThanOrEqual(32);
        } catch (err) {
          expectTyped(err, [KeysError], ["INVALID_MASTER_SECRET"]);
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("unwrapDataKey: tampered and random blobs → UNWRAP_FAILED / BINDING_MISMATCH only", async () => {
    const kek = await createAesKwKek(1, new Uint8Array(32).fill(7));
    const good = await wrapDataKey(kek, "disk", new Uint8Array(32).fill(3));
    const blob = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const b = good.slice();
        b[i]! ^= x;
        return b;
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        blob,
        fc.constantFrom("disk", "other"),
        fc.integer({ min: 1, max: 64 }),
        async (b, id, n) => {
          try {
            await unwrapDataKey(kek, id, n, b);
          } catch (err) {
            expectTyped(err, [KekError], ["UNWRAP_FAILED", "BINDING_MISMATCH"]);
          }
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("stored records: random JSON under a key id → CORRUPT_RECORD (or a typed lookup error)", async () => {
    const ring = createKekRing([await createAesKwKek(1, new Uint8Array(32).fill(7))]);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), fc.string()), async (text) => {
        const store = createMemoryKeyStore();
        await store.put("someKey", utf8(text));
        try {
          await new UserManagedKeys({ store, ring: () => ring }).get("someKey", 32);
        } catch (err) {
          expectTyped(
            err,
            [KeyStoreError, KeysError, KekError],
            ["CORRUPT_RECORD", "LENGTH_MISMATCH", "UNWRAP_FAILED", "BINDING_MISMATCH", "UNKNOWN_KEK_VERSION"],
          );
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("deriveKey: random ids, lengths and versions → key or KeysError", async () => {
    const secret = new Uint8Array(32).fill(1);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("diskKey", "dataKey", "measurementSecret", "clusterId", "emergencySsh", "bogus"),
        fc.option(fc.string({ maxLength: 70 })),
        fc.option(fc.oneof(fc.integer({ min: -5, max: 5000 }), fc.double())),
        fc.option(fc.integer({ min: -1, max: 3 })),
        async (purpose, id, length, version) => {
          try {
            const k = await deriveKey({
              secret,
              salt: secret,
              purpose: purpose as "dataKey",
              ...(id === null ? {} : { id }),
              ...(length === null ? {} : { length }),
              ...(version === null ? {} : { version }),
            });
            expect(k.length).toBeGreaterThan(0);
          } catch (err) {
            expectTyped(
              err,
              [KeysError],
              ["INVALID_KEY_ID", "INVALID_LENGTH", "UNKNOWN_KEY_VERSION", "UNKNOWN_PURPOSE"],
            );
          }
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});
