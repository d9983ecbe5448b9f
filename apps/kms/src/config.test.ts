import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { KmsConfigSchema, parseNamedKeys } from "./config.ts";

const tls = { KMS_TLS_CERT_FILE: "/c", KMS_TLS_KEY_FILE: "/k", KMS_CA_CERT_FILE: "/ca" };
const user = {
  ...tls,
  KMS_MODE: "user",
  KMS_PKCS11_LIBRARY: "/lib.so",
  KMS_PKCS11_TOKEN: "t",
  KMS_PKCS11_PIN_FILE: "/pin",
};

describe("KmsConfigSchema", () => {
  test("defaults: loopback, port 9000, JoinService + bootstrapper, measurementSecret to the JoinService", () => {
    const c = v.parse(KmsConfigSchema, { ...tls, KMS_MODE: "cluster", KMS_MASTER_SECRET_FILE: "/m" });
    expect(c.KMS_HOST).toBe("127.0.0.1");
    expect(c.KMS_PORT).toBe(9000);
    expect(c.KMS_KEY_CALLERS).toEqual(["asterism://join-service", "asterism://bootstrapper"]);
    expect(parseNamedKeys(c.KMS_NAMED_KEYS)).toEqual(
      new Map([["measurementSecret", new Set(["asterism://join-service"])]]),
    );
  });

  test.each([
    { name: "unknown mode", env: { ...tls, KMS_MODE: "both" } },
    { name: "cluster without master secret", env: { ...tls, KMS_MODE: "cluster" } },
    { name: "user without a store", env: user },
    { name: "user with two stores", env: { ...user, KMS_STORE_DIR: "/d", KMS_STATE_DB: "/s.db" } },
    { name: "port out of range", env: { ...user, KMS_STATE_DB: "/s.db", KMS_PORT: "70000" } },
    { name: "port not a number", env: { ...user, KMS_STATE_DB: "/s.db", KMS_PORT: "80a" } },
    { name: "host not an IP", env: { ...user, KMS_STATE_DB: "/s.db", KMS_HOST: "example.com" } },
    {
      name: "caller not an identity URI",
      env: { ...user, KMS_STATE_DB: "/s.db", KMS_KEY_CALLERS: "join-service" },
    },
    { name: "malformed named keys", env: { ...user, KMS_STATE_DB: "/s.db", KMS_NAMED_KEYS: "a=b=c" } },
    {
      name: "named key for a non-identity",
      env: { ...user, KMS_STATE_DB: "/s.db", KMS_NAMED_KEYS: "a=join-service" },
    },
    { name: "missing TLS files", env: { KMS_MODE: "cluster", KMS_MASTER_SECRET_FILE: "/m" } },
  ])("refuses $name", ({ env }) => {
    expect(v.safeParse(KmsConfigSchema, env).success).toBe(false);
  });

  test("named keys with several callers", () => {
    expect(
      parseNamedKeys("measurementSecret=asterism://join-service|asterism://bootstrapper;other=asterism://x"),
    ).toEqual(
      new Map([
        ["measurementSecret", new Set(["asterism://join-service", "asterism://bootstrapper"])],
        ["other", new Set(["asterism://x"])],
      ]),
    );
  });
});
