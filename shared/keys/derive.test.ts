import { describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { ClusterKeys, DERIVATION_CONTEXTS, type DeriveKeyOptions, deriveKey, KeysError } from "./index.ts";

const secret = new Uint8Array(32).fill(1);
const salt = new Uint8Array(32).fill(2);
const uuid = "12345678-1234-1234-1234-123456789abc";

describe("deriveKey rejects bad input with typed codes", () => {
  const cases: { name: string; opts: DeriveKeyOptions; wantCode: string }[] = [
    {
      name: "empty secret",
      opts: { secret: new Uint8Array(0), salt, purpose: "measurementSecret" },
      wantCode: "INVALID_SECRET",
    },
    {
      name: "empty salt",
      opts: { secret, salt: new Uint8Array(0), purpose: "measurementSecret" },
      wantCode: "INVALID_SECRET",
    },
    {
      name: "oversized secret",
      opts: { secret: new Uint8Array(1025), salt, purpose: "clusterId" },
      wantCode: "INVALID_SECRET",
    },
    { name: "disk key without id", opts: { secret, salt, purpose: "diskKey" }, wantCode: "INVALID_KEY_ID" },
    {
      name: "disk key, upper-case UUID",
      opts: { secret, salt, purpose: "diskKey", id: uuid.toUpperCase() },
      wantCode: "INVALID_KEY_ID",
    },
    {
      name: "disk key, named id",
      opts: { secret, salt, purpose: "diskKey", id: "measurementSecret" },
      wantCode: "INVALID_KEY_ID",
    },
    {
      name: "disk key, wrong length",
      opts: { secret, salt, purpose: "diskKey", id: uuid, length: 64 },
      wantCode: "INVALID_LENGTH",
    },
    {
      name: "fixed purpose with id",
      opts: { secret, salt, purpose: "measurementSecret", id: "x" },
      wantCode: "INVALID_KEY_ID",
    },
    {
      name: "data key, empty id",
      opts: { secret, salt, purpose: "dataKey", id: "", length: 32 },
      wantCode: "INVALID_KEY_ID",
    },
    {
      name: "data key, path id",
      opts: { secret, salt, purpose: "dataKey", id: "../etc", length: 32 },
      wantCode: "INVALID_KEY_ID",
    },
    {
      name: "data key, no length",
      opts: { secret, salt, purpose: "dataKey", id: uuid },
      wantCode: "INVALID_LENGTH",
    },
    {
      name: "data key, length 0",
      opts: { secret, salt, purpose: "dataKey", id: uuid, length: 0 },
      wantCode: "INVALID_LENGTH",
    },
    {
      name: "data key, length 4097",
      opts: { secret, salt, purpose: "dataKey", id: uuid, length: 4097 },
      wantCode: "INVALID_LENGTH",
    },
    {
      name: "data key, length 1.5",
      opts: { secret, salt, purpose: "dataKey", id: uuid, length: 1.5 },
      wantCode: "INVALID_LENGTH",
    },
    {
      name: "unknown version",
      opts: { secret, salt, purpose: "diskKey", id: uuid, version: 2 },
      wantCode: "UNKNOWN_KEY_VERSION",
    },
    {
      name: "unknown purpose",
      opts: { secret, salt, purpose: "nope" as unknown as DeriveKeyOptions["purpose"] },
      wantCode: "UNKNOWN_PURPOSE",
    },
  ];
  test.each(cases)("$name", async ({ opts, wantCode }) => {
    const err = await deriveKey(opts).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KeysError);
    expect(String((err as KeysError).code)).toBe(wantCode);
  });
});

describe("deriveKey", () => {
  test("data keys of 1 and 4096 bytes; shorter is a prefix of longer (HKDF expand)", async () => {
    const one = await deriveKey({ secret, salt, purpose: "dataKey", id: uuid, length: 1 });
    const big = await deriveKey({ secret, salt, purpose: "dataKey", id: uuid, length: 4096 });
    expect(one).toHaveLength(1);
    expect(big).toHaveLength(4096);
    expect(big[0]).toBe(one[0]!);
  });

  test("every purpose has a v1 context and distinct info strings", () => {
    const infos = Object.values(DERIVATION_CONTEXTS).map((v) => v[1].info("x"));
    expect(new Set(infos).size).toBe(infos.length - 1); // diskKey and dataKey share "key-<id>" by design
  });

  test("ClusterKeys derives the same bytes as deriveKey and wipes the caller's secret", async () => {
    const copy = secret.slice();
    const keys = await ClusterKeys.create(copy, salt);
    expect(copy.every((b) => b === 0)).toBe(true);
    const a = await keys.derive({ purpose: "diskKey", id: uuid });
    const b = await deriveKey({ secret, salt, purpose: "diskKey", id: uuid });
    expect(toHex(a)).toBe(toHex(b));
  });

  test("ClusterKeys refuses an empty salt", async () => {
    await expect(ClusterKeys.create(secret.slice(), new Uint8Array(0))).rejects.toMatchObject({
      code: "INVALID_SECRET",
    });
  });
});
