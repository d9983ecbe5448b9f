import { describe, expect, test } from "bun:test";
import { utf8 } from "@asterism/bytes";
import { applyMutations, fuzzRuns, fuzzTimeout } from "@asterism/testing";
import fc from "fast-check";
import {
  createAesKwKek,
  createKekRing,
  createMemoryKeyStore,
  UserManagedKeys,
  verifyDataKeys,
} from "./index.ts";

/**
 * `kms verify` walks every stored data-key record: a store whose records were corrupted (disk, a
 * compromised admin writing Secrets) must be reported record by record with a code, never crash the walk,
 * and never count a tampered record as good.
 */
describe("verifyDataKeys over corrupted stores", () => {
  test(
    "every tampered record is reported with a code; genuine ones pass",
    async () => {
      const ring = createKekRing([await createAesKwKek(1, new Uint8Array(32).fill(7))]);
      const source = createMemoryKeyStore();
      const umk = new UserManagedKeys({ store: source, ring: () => ring });
      const ids = [1, 2, 3].map((i) => `00000000-0000-4000-8000-00000000000${i}`);
      for (const id of ids) await umk.getOrCreate(id, 32);
      const genuine = new Map<string, Uint8Array>();
      for (const id of ids) genuine.set(id, (await source.get(id))?.value as Uint8Array);

      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.tuple(
              fc.constantFrom(...ids),
              fc.oneof(
                fc
                  .array(
                    fc.record({
                      at: fc.nat(),
                      op: fc.constantFrom(
                        "xor" as const,
                        "set" as const,
                        "insert" as const,
                        "delete" as const,
                      ),
                      byte: fc.integer({ min: 0, max: 255 }),
                    }),
                    { minLength: 1, maxLength: 3 },
                  )
                  .map((e) => ({ edits: e })),
                fc.oneof(fc.json(), fc.string()).map((t) => ({ text: t })),
              ),
            ),
            { maxLength: 3 },
          ),
          async (changes) => {
            const store = createMemoryKeyStore();
            const values = new Map(genuine);
            for (const [id, c] of changes) {
              const before = values.get(id) as Uint8Array;
              values.set(id, "edits" in c ? applyMutations(before, c.edits) : utf8(c.text));
            }
            for (const [id, v] of values) await store.put(id, v);
            const r = await verifyDataKeys(store, ring);
            expect(r.checked).toBe(ids.length);
            const failed = new Set(r.failures.map((f) => f.id));
            for (const f of r.failures) expect(f.code).not.toBe("UNKNOWN");
            for (const id of ids) {
              const same = Buffer.from(values.get(id) as Uint8Array).equals(
                Buffer.from(genuine.get(id) as Uint8Array),
              );
              // A record that changed must either fail, or carry the same key material in an equivalent JSON
              // encoding (whitespace, the unbound `created` stamp); a genuine one must pass.
              if (same) expect(failed.has(id)).toBe(false);
              else if (!failed.has(id)) {
                // `created` is bookkeeping, not bound into the wrap; every field that selects or binds the
                // key (id, length, KEK versions, wrapped bytes) must be the genuine one.
                const { created: _a, ...a } = JSON.parse(new TextDecoder().decode(values.get(id)));
                const { created: _b, ...b } = JSON.parse(new TextDecoder().decode(genuine.get(id)));
                expect(a).toEqual(b);
              }
            }
          },
        ),
        { numRuns: fuzzRuns(200) },
      );
    },
    fuzzTimeout(30_000),
  );
});
