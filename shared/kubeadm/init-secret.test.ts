import { describe, expect, test } from "bun:test";
import { codeOfAsync as codeOf } from "@asterism/testing";
import { InitSecretError } from "./errors.ts";
import { createInitSecretChecker } from "./init-secret.ts";

const SECRET = "k2V8dP4qL9sT1wX6zB3nM7cF0hJ5gR2a"; // 32 characters, like the generated init secret

describe("createInitSecretChecker", async () => {
  const hash = await Bun.password.hash(SECRET, { algorithm: "bcrypt", cost: 4 });

  test("Bun writes bcrypt hashes our pattern accepts", () => {
    expect(hash).toMatch(/^\$2b\$04\$/);
  });

  test("the right secret passes, as string or bytes", async () => {
    const c = createInitSecretChecker(hash);
    expect(await codeOf(c.check(SECRET))).toBeUndefined();
    expect(await codeOf(c.check(new TextEncoder().encode(SECRET)))).toBeUndefined();
  });

  test("an independent $2a$ vector (OpenWall crypt_blowfish, as Go's bcrypt writes) verifies", async () => {
    const c = createInitSecretChecker("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW");
    expect(await codeOf(c.check("U*U"))).toBeUndefined();
    expect(await codeOf(c.check("U*V"))).toBe("INIT_SECRET_INVALID");
  });

  test.each([
    { name: "wrong secret", secret: `${SECRET.slice(0, -1)}b` },
    { name: "empty secret", secret: "" },
    { name: "secret over 72 bytes sharing the prefix", secret: SECRET.repeat(3) },
    { name: "secret as a number", secret: 42 as unknown as string },
  ])("$name → INIT_SECRET_INVALID with no detail", async ({ secret }) => {
    const c = createInitSecretChecker(hash);
    let err: unknown;
    try {
      await c.check(secret);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InitSecretError);
    const e = err as InitSecretError;
    expect(e.code).toBe("INIT_SECRET_INVALID");
    expect(e.message).toBe("Init secret rejected");
    expect(e.expected).toBeUndefined();
    expect(e.actual).toBeUndefined();
    expect(e.cause).toBeUndefined();
    expect(JSON.stringify(e)).toBe(
      '{"domain":"init-secret","code":"INIT_SECRET_INVALID","message":"Init secret rejected"}',
    );
  });

  test.each([
    { name: "empty", hash: "" },
    { name: "argon2 hash", hash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA" },
    { name: "truncated bcrypt", hash: "$2b$04$abc" },
    { name: "cost out of range", hash: `$2b$99$${"a".repeat(53)}` },
  ])("unusable hash ($name) fails at construction", ({ hash: h }) => {
    expect(() => createInitSecretChecker(h)).toThrow(
      expect.objectContaining({ code: "INIT_SECRET_HASH_INVALID" }),
    );
  });
});
