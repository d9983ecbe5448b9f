import { describe, expect, test } from "bun:test";
import { readTestdata } from "@asterism/testing";
import { TPM_ALG } from "../constants.ts";
import { QuoteVerificationError } from "../errors.ts";
import type { TPMS_ECC_PARMS, TPMS_RSA_PARMS, TPMT_PUBLIC } from "../structures/public.ts";
import { AK_TEMPLATE_ECC_P256, EK_TEMPLATE_RSA_2048 } from "../templates.ts";
import { defaultScheme, fixedWidth, tpmPublicToCryptoKey } from "./crypto-key.ts";
import { parseTpmtPublic } from "./quote.ts";

const GCE = ["external", "go-tpm-tools", "attestations", "decoded", "gce-cos-85-nonce9009"];

describe("tpmPublicToCryptoKey", () => {
  test("defaults to the key's scheme and verifies the GCE quote signature directly", async () => {
    const pub = parseTpmtPublic(await readTestdata(...GCE, "ak_pub.tpmt_public.bin"));
    expect(defaultScheme(pub)).toEqual({ sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
    const key = await tpmPublicToCryptoKey(pub);
    const attest = await readTestdata(...GCE, "quote_sha256.attest.bin");
    const sig = (await readTestdata(...GCE, "quote_sha256.sig.bin")).subarray(6);
    expect(
      await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, sig as BufferSource, attest as BufferSource),
    ).toBe(true);
  });

  test("scheme NULL keys default to RSASSA/ECDSA with nameAlg", () => {
    expect(defaultScheme(EK_TEMPLATE_RSA_2048)).toEqual({ sigAlg: TPM_ALG.RSASSA, hashAlg: TPM_ALG.SHA256 });
    expect(defaultScheme(AK_TEMPLATE_ECC_P256)).toEqual({ sigAlg: TPM_ALG.ECDSA, hashAlg: TPM_ALG.SHA256 });
  });

  const cases: { name: string; pub: TPMT_PUBLIC; sigAlg?: number }[] = [
    {
      name: "an RSA key that is too small",
      pub: {
        ...EK_TEMPLATE_RSA_2048,
        parameters: { ...(EK_TEMPLATE_RSA_2048.parameters as TPMS_RSA_PARMS), keyBits: 1024 },
        unique: new Uint8Array(128).fill(1),
      },
    },
    { name: "ECDSA on an RSA key", pub: EK_TEMPLATE_RSA_2048, sigAlg: TPM_ALG.ECDSA },
    {
      name: "an unknown curve",
      pub: {
        ...AK_TEMPLATE_ECC_P256,
        parameters: { ...(AK_TEMPLATE_ECC_P256.parameters as TPMS_ECC_PARMS), curveID: 0x10 },
      },
    },
  ];
  test.each(cases)("$name → UNSUPPORTED_ALGORITHM", async ({ pub, sigAlg }) => {
    const err = await tpmPublicToCryptoKey(pub, sigAlg, TPM_ALG.SHA256).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuoteVerificationError);
    expect((err as QuoteVerificationError).code).toBe("UNSUPPORTED_ALGORITHM");
  });

  test("fixedWidth pads, strips leading zeros and rejects oversized integers", () => {
    expect(fixedWidth(new Uint8Array([1]), 4, "x")).toEqual(new Uint8Array([0, 0, 0, 1]));
    expect(fixedWidth(new Uint8Array([0, 0, 0, 0, 2]), 4, "x")).toEqual(new Uint8Array([0, 0, 0, 2]));
    expect(() => fixedWidth(new Uint8Array([1, 0, 0, 0, 0]), 4, "x")).toThrow(QuoteVerificationError);
  });
});
