import { describe, expect, test } from "bun:test";
import { toBase64, toBase64Url } from "@asterism/bytes";
import * as v from "valibot";
import {
  decodeNonce,
  InitRequestSchema,
  JoinRequestSchema,
  JoinTicketSchema,
  VERIFY_USER_DATA,
} from "./index.ts";

const n32 = new Uint8Array(32).fill(7);

describe("decodeNonce", () => {
  test.each([
    { name: "base64url unpadded", s: toBase64Url(n32), ok: true },
    { name: "base64url padded (Constellation's CLI)", s: `${toBase64Url(n32)}=`, ok: true },
    { name: "standard base64", s: toBase64(n32), ok: true },
    { name: "empty", s: "", ok: false },
    { name: "31 bytes", s: toBase64Url(new Uint8Array(31)), ok: false },
    { name: "33 bytes", s: toBase64Url(new Uint8Array(33)), ok: false },
    { name: "oversized", s: "A".repeat(4096), ok: false },
    { name: "not base64", s: "!!!!", ok: false },
  ])("$name", ({ s, ok }) => {
    const r = decodeNonce(s);
    expect(r !== undefined).toBe(ok);
    if (ok) expect(r).toEqual(n32);
  });
});

describe("schemas", () => {
  test("VERIFY_USER_DATA is SHA-256('VerifyService')", () => {
    expect(Buffer.from(VERIFY_USER_DATA).toString("hex")).toBe(
      new Bun.CryptoHasher("sha256").update("VerifyService").digest("hex"),
    );
  });

  test("join request: binary fields decode, unknown fields (a claimed node name) are refused", () => {
    const ok = v.parse(JoinRequestSchema, {
      diskUuid: "12345678-1234-1234-1234-123456789abc",
      csr: toBase64(new Uint8Array([1, 2, 3])),
      controlPlane: false,
    });
    expect(ok.csr).toEqual(new Uint8Array([1, 2, 3]));
    const claimed = v.safeParse(JoinRequestSchema, {
      diskUuid: "12345678-1234-1234-1234-123456789abc",
      csr: toBase64(new Uint8Array([1])),
      controlPlane: true,
      nodeName: "control-plane-0",
    });
    expect(claimed.success).toBe(false);
    const upper = v.safeParse(JoinRequestSchema, {
      diskUuid: "12345678-1234-1234-1234-123456789ABC",
      csr: "AQ==",
      controlPlane: false,
    });
    expect(upper.success).toBe(false);
  });

  test("ticket: key lengths are exact", () => {
    const base = {
      diskKey: toBase64(new Uint8Array(32)),
      measurementSecret: toBase64(new Uint8Array(32)),
      measurementSalt: toBase64(new Uint8Array(32)),
      kubeletCert: "pem",
      apiServerEndpoint: "127.0.0.1:6443",
      token: "abcdef.0123456789abcdef",
      caCertHashes: [`sha256:${"0".repeat(64)}`],
      controlPlaneFiles: [],
      kubernetesVersion: "",
      kubernetesComponents: [],
    };
    expect(v.safeParse(JoinTicketSchema, base).success).toBe(true);
    expect(v.safeParse(JoinTicketSchema, { ...base, diskKey: toBase64(new Uint8Array(31)) }).success).toBe(
      false,
    );
  });

  test("init request: measurement salt 32 bytes, init secret at most 72 bytes", () => {
    const base = {
      initSecret: toBase64(new Uint8Array(32)),
      masterSecret: { key: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(32)) },
      measurementSalt: toBase64(new Uint8Array(32)),
      kubernetesVersion: "v1.31.13",
      kubernetesComponents: [],
      serviceCidr: "10.96.0.0/12",
    };
    expect(v.parse(InitRequestSchema, base).clusterName).toBe("asterism");
    expect(
      v.safeParse(InitRequestSchema, { ...base, measurementSalt: toBase64(new Uint8Array(16)) }).success,
    ).toBe(false);
    expect(
      v.safeParse(InitRequestSchema, { ...base, initSecret: toBase64(new Uint8Array(73)) }).success,
    ).toBe(false);
  });
});
