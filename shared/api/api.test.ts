import { describe, expect, test } from "bun:test";
import { fromUtf8, toBase64, toBase64Url } from "@asterism/bytes";
import { serializePolicy } from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
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

  describe("init request: joinPolicy", () => {
    const base = {
      initSecret: toBase64(new Uint8Array(32)),
      masterSecret: { key: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(32)) },
      measurementSalt: toBase64(new Uint8Array(32)),
      kubernetesVersion: "v1.31.13",
      kubernetesComponents: [],
      serviceCidr: "10.96.0.0/12",
    };
    const hex = (b: number) => b.toString(16).padStart(2, "0").repeat(32);
    const policy = JSON.parse(
      fromUtf8(
        serializePolicy({
          variants: ["qemu-vtpm"],
          measurements: createMeasurements([
            [4, { expected: hex(4) }],
            [9, { expected: hex(9), warnOnly: true }],
            [15, { expected: new Uint8Array(32) }],
          ]),
        }),
      ),
    ) as Record<string, unknown>;
    const entry = { expected: hex(1), warnOnly: false };
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [String(i), entry]));

    test("absent: unchanged; serializePolicy's output: accepted as is", () => {
      expect(v.parse(InitRequestSchema, base).joinPolicy).toBeUndefined();
      expect(v.parse(InitRequestSchema, { ...base, joinPolicy: policy }).joinPolicy).toEqual(policy as never);
    });

    test.each([
      {
        name: "__proto__ index (valibot's record would drop it)",
        p: JSON.parse(`{"measurements": {"__proto__": ${JSON.stringify(entry)}}}`),
      },
      { name: "non-canonical index", p: { measurements: { "04": entry } } },
      { name: "index beyond 99", p: { measurements: { "100": entry } } },
      { name: "33 entries", p: { measurements: many } },
      {
        name: "upper-case hex",
        p: { measurements: { "4": { expected: hex(10).toUpperCase(), warnOnly: false } } },
      },
      { name: "31-byte value", p: { measurements: { "4": { expected: "00".repeat(31), warnOnly: false } } } },
      { name: "bare hex entry (not serializePolicy's form)", p: { measurements: { "4": hex(1) } } },
      { name: "unknown entry field", p: { measurements: { "4": { ...entry, warn_only: true } } } },
      { name: "unknown policy field", p: { ...policy, snp: {} } },
      { name: "measurements an array", p: { measurements: [entry] } },
      { name: "empty variants", p: { variants: [], measurements: {} } },
      { name: "17 variants", p: { variants: Array(17).fill("qemu-vtpm"), measurements: {} } },
    ])("refused: $name", ({ p }) => {
      expect(v.safeParse(InitRequestSchema, { ...base, joinPolicy: p }).success).toBe(false);
    });
  });
});
