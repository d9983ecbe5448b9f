import { describe, expect, test } from "bun:test";
import { toBase64 } from "@asterism/bytes";
import { KeysError, parseMasterSecret, serializeMasterSecret } from "./index.ts";

const b64 = (n: number, fill = 7) => toBase64(new Uint8Array(n).fill(fill));
const SECRET_B64 = b64(32, 0xab);

describe("parseMasterSecret", () => {
  const bad: { name: string; input: string }[] = [
    { name: "not JSON", input: "{" },
    { name: "array", input: "[]" },
    { name: "missing salt", input: JSON.stringify({ key: b64(32) }) },
    { name: "extra field", input: JSON.stringify({ key: b64(32), salt: b64(32), x: 1 }) },
    { name: "number key", input: JSON.stringify({ key: 1, salt: b64(32) }) },
    { name: "key too short (15)", input: JSON.stringify({ key: b64(15), salt: b64(32) }) },
    { name: "salt too short (31)", input: JSON.stringify({ key: b64(32), salt: b64(31) }) },
    { name: "empty key", input: JSON.stringify({ key: "", salt: b64(32) }) },
    {
      name: "url-safe base64",
      input: JSON.stringify({ key: b64(32, 0xff).replace(/\//g, "_"), salt: b64(32) }),
    },
    { name: "unpadded base64", input: JSON.stringify({ key: b64(32).replace(/=+$/, ""), salt: b64(32) }) },
    { name: "huge file", input: " ".repeat(20000) },
    { name: "key too long", input: JSON.stringify({ key: b64(1025), salt: b64(32) }) },
  ];
  test.each(bad)("rejects $name with INVALID_MASTER_SECRET", ({ input }) => {
    let err: unknown;
    try {
      parseMasterSecret(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KeysError);
    expect((err as KeysError).code).toBe("INVALID_MASTER_SECRET");
  });

  test("error messages never echo the secret", () => {
    const input = JSON.stringify({ key: `${SECRET_B64}!`, salt: SECRET_B64 });
    try {
      parseMasterSecret(input);
      throw new Error("accepted");
    } catch (e) {
      expect(String((e as Error).message)).not.toContain(SECRET_B64.slice(0, 8));
      expect(JSON.stringify(e)).not.toContain(SECRET_B64.slice(0, 8));
    }
  });

  test("serializing refuses what parsing would refuse", () => {
    expect(() => serializeMasterSecret({ key: new Uint8Array(15), salt: new Uint8Array(32) })).toThrow(
      KeysError,
    );
    expect(() => serializeMasterSecret({ key: new Uint8Array(32), salt: new Uint8Array(31) })).toThrow(
      KeysError,
    );
  });

  test("round trip (bytes input) with minimum lengths", () => {
    const file = JSON.stringify({ key: b64(16, 1), salt: b64(32, 2) });
    const s = parseMasterSecret(new TextEncoder().encode(file));
    expect(s.key).toHaveLength(16);
    expect(serializeMasterSecret(s)).toBe(file);
  });
});
