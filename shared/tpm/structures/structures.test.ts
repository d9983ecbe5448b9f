import { describe, expect, test } from "bun:test";
import { fromBase64, fromHex, toHex } from "@asterism/bytes";
import { CodecError, decode, encode } from "@asterism/codec";
import { readTestdata } from "@asterism/testing";
import { TPM_ALG } from "../constants.ts";
import { objectName } from "../name.ts";
import {
  AK_TEMPLATE_ECC_P256,
  AK_TEMPLATE_RSA_2048,
  EK_TEMPLATE_ECC_P256,
  EK_TEMPLATE_RSA_2048,
} from "../templates.ts";
import { tpmPublicToSpki } from "../verify/crypto-key.ts";
import { TPMS_ATTEST, type TPMS_QUOTE_INFO } from "./attest.ts";
import { TPML_PCR_SELECTION, TPMS_PCR_SELECTION, TPMT_HA } from "./basic.ts";
import { TPM2B_PUBLIC, TPMT_PUBLIC } from "./public.ts";
import { TPMT_SIGNATURE } from "./signature.ts";

const DIR = ["external", "go-tpm-tools", "attestations", "decoded", "gce-cos-85-nonce9009"];

describe("golden GCE structures round-trip byte for byte", () => {
  test("TPMT_PUBLIC (RSA-2048 restricted signing AK)", async () => {
    const bytes = await readTestdata(...DIR, "ak_pub.tpmt_public.bin");
    const pub = decode(TPMT_PUBLIC, bytes);
    expect(pub.type).toBe(TPM_ALG.RSA);
    expect(pub.objectAttributes.restricted).toBe(1);
    expect(toHex(encode(TPMT_PUBLIC, pub))).toBe(toHex(bytes));
  });

  test.each(["sha1", "sha256", "sha384"])("TPMS_ATTEST and TPMT_SIGNATURE (%s bank)", async (bank) => {
    const attest = await readTestdata(...DIR, `quote_${bank}.attest.bin`);
    const sig = await readTestdata(...DIR, `quote_${bank}.sig.bin`);
    const a = decode(TPMS_ATTEST, attest);
    expect((a.attested as TPMS_QUOTE_INFO).pcrSelect[0]?.pcrSelect.length).toBe(24);
    expect(toHex(encode(TPMS_ATTEST, a))).toBe(toHex(attest));
    expect(toHex(encode(TPMT_SIGNATURE, decode(TPMT_SIGNATURE, sig)))).toBe(toHex(sig));
  });

  test("the AK certificate and ak_pub.pem carry the SPKI of ak_pub", async () => {
    const pub = decode(TPMT_PUBLIC, await readTestdata(...DIR, "ak_pub.tpmt_public.bin"));
    const spki = await tpmPublicToSpki(pub);
    const pem = new TextDecoder().decode(await readTestdata(...DIR, "ak_pub.pem"));
    const pemDer = fromBase64(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""));
    expect(toHex(spki)).toBe(toHex(pemDer));
    // The certificate embeds the same SubjectPublicKeyInfo verbatim.
    expect(toHex(await readTestdata(...DIR, "ak_cert.der")).includes(toHex(spki))).toBe(true);
  });
});

describe("TPMT_PUBLIC nameAlg is +TPMI_ALG_HASH (fuzz regression, docs/fuzzing.md)", () => {
  // Found by shared/attestation/validate.fuzz.test.ts: the GCE AK with nameAlg 0x000B XOR 0x8000 parsed.
  test.each([
    ["reserved 0x800b", 0x800b, "INVALID_VALUE"],
    ["RSA (not a hash) 0x0001", 0x0001, "INVALID_VALUE"],
    ["SHA-384", TPM_ALG.SHA384, undefined],
    ["TPM_ALG_NULL (the + form)", TPM_ALG.NULL, undefined],
  ] as const)("%s", async (_, alg, wantCode) => {
    const bytes = (await readTestdata(...DIR, "ak_pub.tpmt_public.bin")).slice();
    new DataView(bytes.buffer).setUint16(2, alg);
    let code: string | undefined;
    try {
      decode(TPMT_PUBLIC, bytes);
    } catch (e) {
      expect(e).toBeInstanceOf(CodecError);
      code = (e as CodecError).code;
    }
    expect(code).toBe(wantCode);
  });
});

describe("templates", () => {
  test.each([
    ["EK RSA-2048 (L-1)", EK_TEMPLATE_RSA_2048, 0x000300b2],
    ["EK ECC P-256 (L-2)", EK_TEMPLATE_ECC_P256, 0x000300b2],
    ["AK RSA-2048", AK_TEMPLATE_RSA_2048, 0x00050472],
    ["AK ECC P-256", AK_TEMPLATE_ECC_P256, 0x00050472],
  ] as const)("%s attributes and round trip", (_, t, attrs) => {
    const bytes = encode(TPMT_PUBLIC, t);
    expect(new DataView(bytes.buffer).getUint32(4)).toBe(attrs);
    expect(decode(TPMT_PUBLIC, bytes)).toEqual(t);
    expect(objectName(t).length).toBe(34);
  });
});

describe("field-table rejections", () => {
  const ak = () => readTestdata(...DIR, "ak_pub.tpmt_public.bin");
  test.each([
    {
      name: "reserved TPMA_OBJECT bit 0",
      mutate: (b: Uint8Array) => b.with(7, b[7]! | 0x01),
      code: "RESERVED_NONZERO",
    },
    {
      name: "reserved TPMA_OBJECT bit 31",
      mutate: (b: Uint8Array) => b.with(4, b[4]! | 0x80),
      code: "RESERVED_NONZERO",
    },
    { name: "unknown key type", mutate: (b: Uint8Array) => b.with(1, 0x77), code: "UNKNOWN_TAG" },
    { name: "truncated", mutate: (b: Uint8Array) => b.subarray(0, b.length - 1), code: "TRUNCATED" },
    { name: "trailing byte", mutate: (b: Uint8Array) => new Uint8Array([...b, 0]), code: "TRAILING_BYTES" },
  ])("TPMT_PUBLIC $name → $code", async ({ mutate, code }) => {
    const bad = mutate(await ak());
    expect(() => decode(TPMT_PUBLIC, bad)).toThrow(expect.objectContaining({ code }));
  });

  test("TPM2B_PUBLIC whose size disagrees with its content → SIZE_MISMATCH", async () => {
    const inner = await ak();
    const b = new Uint8Array(inner.length + 3);
    new DataView(b.buffer).setUint16(0, inner.length + 1);
    b.set(inner, 2);
    expect(() => decode(TPM2B_PUBLIC, b)).toThrow(expect.objectContaining({ code: "SIZE_MISMATCH" }));
  });

  test("TPMT_HA with an unknown hash → INVALID_VALUE; TPM_ALG_NULL is not a hash", () => {
    expect(() => decode(TPMT_HA, fromHex("0099"))).toThrow(CodecError);
    expect(() => decode(TPMT_HA, fromHex("0010"))).toThrow(
      expect.objectContaining({ code: "INVALID_VALUE" }),
    );
  });

  test("TPMS_PCR_SELECTION bitmap ↔ indices, with an oversized sizeofSelect rejected", () => {
    const sel = decode(TPMS_PCR_SELECTION, fromHex("000b03810001"));
    expect(sel).toEqual({ hash: TPM_ALG.SHA256, pcrSelect: [0, 7, 16] });
    expect(toHex(encode(TPMS_PCR_SELECTION, sel))).toBe("000b03810001");
    expect(() => decode(TPMS_PCR_SELECTION, fromHex(`000bff${"00".repeat(255)}`))).toThrow(
      expect.objectContaining({ code: "SIZE_LIMIT" }),
    );
    expect(() => decode(TPML_PCR_SELECTION, fromHex("00000011"))).toThrow(
      expect.objectContaining({ code: "SIZE_LIMIT" }),
    );
  });
});
