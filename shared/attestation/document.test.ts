import { describe, expect, test } from "bun:test";
import { codeOf } from "@asterism/testing";
import {
  AttestationParseError,
  checkBinding,
  makeExtraData,
  parseAttestationDocument,
  reportDataForExtraData,
  serializeAttestationDocument,
  tpmQualifyingData,
} from "./index.ts";

const U = new Uint8Array(32).fill(1);
const N = new Uint8Array(32).fill(2);
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
const good = { version: 1, variant: "qemu-vtpm", userData: b64(U), nonce: b64(N), evidence: { a: 1 } };

describe("makeExtraData()", () => {
  test("= SHA-256(userData ‖ nonce)", () => {
    const want = new Bun.CryptoHasher("sha256").update(U).update(N).digest("hex");
    expect(Buffer.from(makeExtraData(U, N)).toString("hex")).toBe(want);
  });
  const bad = [
    { name: "31-byte userData", u: U.subarray(1), n: N },
    { name: "33-byte userData", u: new Uint8Array(33), n: N },
    { name: "empty nonce", u: U, n: new Uint8Array() },
    { name: "16-byte nonce", u: U, n: N.subarray(16) },
  ];
  test.each(bad)("exact lengths required: $name → INVALID_LENGTH", ({ u, n }) => {
    expect(codeOf(() => makeExtraData(u, n))).toBe("INVALID_LENGTH");
  });
  test("qualifying data = SHA-256(instanceInfo ‖ extraData); report data = extraData ‖ 0³²", () => {
    const x = makeExtraData(U, N);
    expect(Buffer.from(tpmQualifyingData(x)).toString("hex")).toBe(
      new Bun.CryptoHasher("sha256").update(x).digest("hex"),
    );
    const info = new TextEncoder().encode('{"zone":"z"}');
    expect(Buffer.from(tpmQualifyingData(x, info)).toString("hex")).toBe(
      new Bun.CryptoHasher("sha256").update(info).update(x).digest("hex"),
    );
    const rd = reportDataForExtraData(x);
    expect(rd.length).toBe(64);
    expect(rd.subarray(32).every((b) => b === 0)).toBe(true);
  });
  test("checkBinding never zero-pads: a prefix does not match", () => {
    const x = makeExtraData(U, N);
    expect(codeOf(() => checkBinding("t", x, x.subarray(0, 31)))).toBe("BINDING_MISMATCH");
    expect(codeOf(() => checkBinding("t", x, new Uint8Array([...x, 0])))).toBe("BINDING_MISMATCH");
    expect(codeOf(() => checkBinding("t", x, x.slice()))).toBeUndefined();
  });
});

describe("parseAttestationDocument()", () => {
  test("round-trips through serializeAttestationDocument", () => {
    const doc = parseAttestationDocument(enc(good));
    expect(doc.variant).toBe("qemu-vtpm");
    expect(doc.userData).toEqual(U);
    expect(parseAttestationDocument(serializeAttestationDocument(doc))).toEqual(doc);
  });

  const bad: { name: string; input: Uint8Array; code: string }[] = [
    { name: "not JSON", input: new TextEncoder().encode("{"), code: "INVALID_SYNTAX" },
    { name: "invalid UTF-8", input: new Uint8Array([0x7b, 0xff, 0x7d]), code: "INVALID_SYNTAX" },
    { name: "array", input: enc([]), code: "INVALID_SCHEMA" },
    { name: "null", input: enc(null), code: "INVALID_SCHEMA" },
    { name: "version 2", input: enc({ ...good, version: 2 }), code: "UNSUPPORTED_VERSION" },
    { name: "version as string", input: enc({ ...good, version: "1" }), code: "UNSUPPORTED_VERSION" },
    {
      name: "no version (Constellation doc)",
      input: enc({ Attestation: {}, UserData: "" }),
      code: "UNSUPPORTED_VERSION",
    },
    { name: "unknown variant", input: enc({ ...good, variant: "dummy" }), code: "UNKNOWN_VARIANT" },
    { name: "extra top-level key", input: enc({ ...good, trusted: true }), code: "INVALID_SCHEMA" },
    { name: "missing evidence", input: enc({ ...good, evidence: undefined }), code: "INVALID_SCHEMA" },
    { name: "evidence array", input: enc({ ...good, evidence: [] }), code: "INVALID_SCHEMA" },
    { name: "userData not base64", input: enc({ ...good, userData: "!!" }), code: "INVALID_ENCODING" },
    { name: "userData base64url", input: enc({ ...good, userData: "_-8=" }), code: "INVALID_ENCODING" },
    {
      name: "userData 31 bytes",
      input: enc({ ...good, userData: b64(U.subarray(1)) }),
      code: "INVALID_LENGTH",
    },
    {
      name: "nonce 33 bytes",
      input: enc({ ...good, nonce: b64(new Uint8Array(33)) }),
      code: "INVALID_LENGTH",
    },
    { name: "nonce number", input: enc({ ...good, nonce: 5 }), code: "INVALID_SCHEMA" },
    { name: "too large", input: new Uint8Array((1 << 20) + 1).fill(0x20), code: "TOO_LARGE" },
  ];
  test.each(bad)("rejects $name with $code", ({ input, code }) => {
    expect(codeOf(() => parseAttestationDocument(input))).toBe(code);
  });

  test("errors are AttestationParseError", () => {
    expect(() => parseAttestationDocument(enc([]))).toThrow(AttestationParseError);
  });
});
