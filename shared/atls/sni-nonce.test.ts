import { describe, expect, test } from "bun:test";
import { fromHex } from "@asterism/bytes";
import { AtlsError } from "./errors.ts";
import { decodeSniNonce, encodeSniNonce, SNI_NONCE_SUFFIX } from "./sni-nonce.ts";

const ZERO = new Uint8Array(32);
const ONES = new Uint8Array(32).fill(0xff);
const label = (name: string) => name.slice(0, -SNI_NONCE_SUFFIX.length);

describe("SNI nonce encoding", () => {
  test.each([
    // RFC 4648 §10 base32 of 32 bytes, lower-cased, padding dropped: 51 groups of 5 bits plus 1 bit.
    { name: "all zero", nonce: ZERO, want: `${"a".repeat(52)}${SNI_NONCE_SUFFIX}` },
    { name: "all 0xff", nonce: ONES, want: `${"7".repeat(51)}q${SNI_NONCE_SUFFIX}` },
    {
      name: "RFC 4648 'foobar' prefix",
      nonce: new Uint8Array([...new TextEncoder().encode("foobar"), ...new Uint8Array(26)]),
      want: `mzxw6ytboi${"a".repeat(42)}${SNI_NONCE_SUFFIX}`,
    },
  ])("$name", ({ nonce, want }) => {
    expect(encodeSniNonce(nonce)).toBe(want);
    expect(decodeSniNonce(want)).toEqual(nonce);
  });

  test("fits DNS limits: 68 characters, first label 52", () => {
    const name = encodeSniNonce(crypto.getRandomValues(new Uint8Array(32)));
    expect(name.length).toBe(68);
    for (const l of name.split(".")) expect(l.length).toBeLessThanOrEqual(63);
  });

  test("round-trips random nonces", () => {
    for (let i = 0; i < 200; i++) {
      const n = crypto.getRandomValues(new Uint8Array(32));
      expect(decodeSniNonce(encodeSniNonce(n))).toEqual(n);
    }
  });

  const good = encodeSniNonce(fromHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
  test.each([
    { name: "no server name", input: undefined, wantCode: "NONCE_MISSING" },
    { name: "an ordinary host name", input: "localhost", wantCode: "NONCE_MISSING" },
    { name: "another suffix", input: `${label(good)}.atls-v2.invalid`, wantCode: "NONCE_MISSING" },
    {
      name: "upper case (not canonical)",
      input: `${label(good).toUpperCase()}${SNI_NONCE_SUFFIX}`,
      wantCode: "NONCE_MALFORMED",
    },
    {
      name: "label too short",
      input: `${label(good).slice(1)}${SNI_NONCE_SUFFIX}`,
      wantCode: "NONCE_MALFORMED",
    },
    { name: "label too long", input: `a${label(good)}${SNI_NONCE_SUFFIX}`, wantCode: "NONCE_MALFORMED" },
    {
      name: "non-base32 digit",
      input: `${label(good).slice(0, -2)}1a${SNI_NONCE_SUFFIX}`,
      wantCode: "NONCE_MALFORMED",
    },
    {
      name: "padding character",
      input: `${label(good).slice(0, -1)}=${SNI_NONCE_SUFFIX}`,
      wantCode: "NONCE_MALFORMED",
    },
    // 'b' = 00001: the final 4 bits must be zero so each nonce has exactly one spelling.
    {
      name: "non-zero padding bits",
      input: `${"a".repeat(51)}b${SNI_NONCE_SUFFIX}`,
      wantCode: "NONCE_MALFORMED",
    },
    { name: "extra label", input: `x.${label(good)}${SNI_NONCE_SUFFIX}`, wantCode: "NONCE_MALFORMED" },
  ])("rejects $name", ({ input, wantCode }) => {
    expect(() => decodeSniNonce(input)).toThrow(AtlsError);
    try {
      decodeSniNonce(input);
    } catch (e) {
      expect((e as AtlsError).code).toBe(wantCode as AtlsError["code"]);
    }
  });

  test("refuses to encode a nonce of the wrong length", () => {
    expect(() => encodeSniNonce(new Uint8Array(31))).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
  });
});
