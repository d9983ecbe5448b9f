import { describe, expect, test } from "bun:test";
import { fromHex, toHex } from "@asterism/bytes";
import { createAesKwKek, createKekRing, KekError, unwrapDataKey, wrapDataKey } from "./index.ts";

// RFC 3394 §4.6: 256 bits of key data wrapped with a 256-bit KEK.
const RFC3394_KEK = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const RFC3394_DATA = "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f";
const RFC3394_OUT = "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21";

const kek = (version: number, fill: number) => createAesKwKek(version, new Uint8Array(32).fill(fill));

describe("AES-KW KEK", () => {
  test("RFC 3394 §4.6 vector", async () => {
    const k = await createAesKwKek(1, fromHex(RFC3394_KEK));
    expect(toHex(await k.wrap(fromHex(RFC3394_DATA)))).toBe(RFC3394_OUT);
    expect(toHex(await k.unwrap(fromHex(RFC3394_OUT)))).toBe(RFC3394_DATA);
  });

  test("tampered blob fails with UNWRAP_FAILED", async () => {
    const k = await createAesKwKek(1, fromHex(RFC3394_KEK));
    const bad = fromHex(RFC3394_OUT);
    bad[5]! ^= 1;
    await expect(k.unwrap(bad)).rejects.toMatchObject({ code: "UNWRAP_FAILED" });
  });
});

describe("data-key framing", () => {
  test.each([1, 7, 8, 31, 32, 33, 4096])("round trip of a %d-byte key", async (n) => {
    const k = await kek(1, 3);
    const key = crypto.getRandomValues(new Uint8Array(n));
    const wrapped = await wrapDataKey(k, "disk", key);
    expect(wrapped.length % 8).toBe(0);
    expect(await unwrapDataKey(k, "disk", n, wrapped)).toEqual(key);
  });

  const negatives = [
    {
      name: "another id (swapped record)",
      id: "other",
      length: 32,
      kekFill: 3,
      wantCode: "BINDING_MISMATCH",
    },
    { name: "another length", id: "disk", length: 31, kekFill: 3, wantCode: "BINDING_MISMATCH" },
    { name: "another KEK", id: "disk", length: 32, kekFill: 4, wantCode: "UNWRAP_FAILED" },
  ];
  test.each(negatives)("$name → $wantCode", async ({ id, length, kekFill, wantCode }) => {
    const wrapped = await wrapDataKey(await kek(1, 3), "disk", new Uint8Array(32).fill(9));
    const err = await unwrapDataKey(await kek(1, kekFill), id, length, wrapped).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KekError);
    expect(String((err as KekError).code)).toBe(wantCode);
  });

  test("a KEK that returns a non-framed payload is rejected", async () => {
    const k = await kek(1, 3);
    const raw = await k.wrap(new Uint8Array(40).fill(1));
    await expect(unwrapDataKey(k, "disk", 32, raw)).rejects.toMatchObject({ code: "UNWRAP_FAILED" });
  });
});

describe("KEK ring", () => {
  test("current defaults to the highest version; unknown current is refused", async () => {
    const ring = createKekRing([await kek(1, 1), await kek(3, 3)]);
    expect(ring.current).toBe(3);
    expect(ring.get(2)).toBeUndefined();
    expect(() => createKekRing([], 1)).toThrow(KekError);
  });
});
