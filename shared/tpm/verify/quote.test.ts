import { describe, expect, test } from "bun:test";
import { fromHex } from "@asterism/bytes";
import { encode } from "@asterism/codec";
import { readTestdata } from "@asterism/testing";
import { TPM_ALG } from "../constants.ts";
import { type QuoteErrorCode, QuoteVerificationError } from "../errors.ts";
import { TPMT_PUBLIC } from "../structures/public.ts";
import { parseTpmtPublic, type VerifyQuoteOptions, verifyQuote } from "./quote.ts";

const DIR = ["external", "go-tpm-tools", "attestations", "decoded"];
const BANKS: Record<string, number> = { sha1: TPM_ALG.SHA1, sha256: TPM_ALG.SHA256, sha384: TPM_ALG.SHA384 };

interface Summary {
  ak_pub: string;
  quotes: { bank: string; attest: string; sig: string; pcrs: string; extraData_hex: string }[];
}

async function load(name: string, bank: string): Promise<VerifyQuoteOptions> {
  const rd = (f: string) => readTestdata(...DIR, name, f);
  const summary = JSON.parse(new TextDecoder().decode(await rd("summary.json"))) as Summary;
  const q = summary.quotes.find((x) => x.bank === bank);
  if (!q) throw new Error(`no ${bank} quote`);
  const pj = JSON.parse(new TextDecoder().decode(await rd(q.pcrs))) as {
    hash: string;
    pcrs: Record<string, string>;
  };
  const values = new Map(Object.entries(pj.pcrs).map(([k, v]) => [Number(k), fromHex(v)]));
  return {
    akPublic: await rd(summary.ak_pub),
    attest: await rd(q.attest),
    signature: await rd(q.sig),
    nonce: fromHex(q.extraData_hex),
    pcrs: new Map([[BANKS[pj.hash] as number, values]]),
  };
}

const flip = (b: Uint8Array, i: number) => {
  const c = b.slice();
  c[i] = (c[i] ?? 0) ^ 0x01;
  return c;
};

describe("go-tpm-tools GCE attestations (VECTORS.md §3.1)", () => {
  const cases = ["gce-cos-85-no-nonce", "gce-cos-85-nonce9009"].flatMap((name) =>
    ["sha1", "sha256", "sha384"].map((bank) => ({ name, bank })),
  );
  test.each(cases)("$name $bank quote verifies; pcrDigest uses the signing hash", async ({ name, bank }) => {
    const opts = await load(name, bank);
    const v = await verifyQuote(opts);
    expect(v.signatureHash.name).toBe("sha256");
    expect(v.pcrs.get(BANKS[bank] as number)?.size).toBe(24);
    expect(v.attest.extraData).toEqual(name.endsWith("9009") ? fromHex("9009") : new Uint8Array(0));
  });
});

describe("quote verification negatives", () => {
  const base = () => load("gce-cos-85-nonce9009", "sha256");
  const cases: {
    name: string;
    wantCode: QuoteErrorCode;
    mutate: (o: VerifyQuoteOptions) => VerifyQuoteOptions;
  }[] = [
    {
      name: "tampered signature",
      wantCode: "SIGNATURE_INVALID",
      mutate: (o) => ({ ...o, signature: flip(o.signature, 100) }),
    },
    {
      name: "tampered attest (clock)",
      wantCode: "SIGNATURE_INVALID",
      mutate: (o) => ({ ...o, attest: flip(o.attest, 50) }),
    },
    { name: "wrong nonce", wantCode: "NONCE_MISMATCH", mutate: (o) => ({ ...o, nonce: fromHex("9008") }) },
    {
      name: "empty nonce where one was quoted",
      wantCode: "NONCE_MISMATCH",
      mutate: (o) => ({ ...o, nonce: new Uint8Array(0) }),
    },
    {
      name: "wrong PCR value",
      wantCode: "PCR_DIGEST_MISMATCH",
      mutate: (o) => {
        const bank = new Map(o.pcrs?.get(TPM_ALG.SHA256));
        bank.set(0, flip(bank.get(0) as Uint8Array, 0));
        return { ...o, pcrs: new Map([[TPM_ALG.SHA256, bank]]) };
      },
    },
    {
      name: "missing PCR value",
      wantCode: "PCR_MISSING",
      mutate: (o) => {
        const bank = new Map(o.pcrs?.get(TPM_ALG.SHA256));
        bank.delete(23);
        return { ...o, pcrs: new Map([[TPM_ALG.SHA256, bank]]) };
      },
    },
    {
      name: "unquoted PCR value supplied",
      wantCode: "PCR_SELECTION_MISMATCH",
      mutate: (o) => ({
        ...o,
        pcrs: new Map([...(o.pcrs ?? []), [TPM_ALG.SHA1, new Map([[0, new Uint8Array(20)]])]]),
      }),
    },
    {
      name: "expected selection differs",
      wantCode: "PCR_SELECTION_MISMATCH",
      mutate: (o) => ({ ...o, expectedSelection: [{ hash: TPM_ALG.SHA256, pcrSelect: [0, 1, 2] }] }),
    },
    {
      name: "AK not restricted",
      wantCode: "AK_NOT_RESTRICTED_SIGNING",
      mutate: (o) => {
        const pub = parseTpmtPublic(o.akPublic as Uint8Array);
        return { ...o, akPublic: { ...pub, objectAttributes: { ...pub.objectAttributes, restricted: 0 } } };
      },
    },
    {
      name: "AK not fixedTPM",
      wantCode: "AK_NOT_FIXED_TPM",
      mutate: (o) => {
        const pub = parseTpmtPublic(o.akPublic as Uint8Array);
        return { ...o, akPublic: { ...pub, objectAttributes: { ...pub.objectAttributes, fixedTPM: 0 } } };
      },
    },
    {
      name: "truncated signature",
      wantCode: "MALFORMED",
      mutate: (o) => ({ ...o, signature: o.signature.subarray(0, 100) }),
    },
    {
      name: "truncated AK public",
      wantCode: "MALFORMED",
      mutate: (o) => ({ ...o, akPublic: (o.akPublic as Uint8Array).subarray(0, 40) }),
    },
    {
      name: "oversized TPM2B in signature",
      wantCode: "MALFORMED",
      mutate: (o) => {
        const s = o.signature.slice();
        s[4] = 0xff; // TPM2B_PUBLIC_KEY_RSA.size high byte → 0xff00 > 512
        return { ...o, signature: s };
      },
    },
    {
      name: "unknown signature algorithm",
      wantCode: "MALFORMED",
      mutate: (o) => {
        const s = o.signature.slice();
        s[1] = 0x77;
        return { ...o, signature: s };
      },
    },
    {
      name: "HMAC signature scheme on an RSA AK",
      wantCode: "SCHEME_MISMATCH",
      mutate: (o) => ({ ...o, signature: fromHex(`0005000b${"00".repeat(32)}`) }),
    },
    {
      name: "RSASSA AK with ECDSA signature",
      wantCode: "SCHEME_MISMATCH",
      mutate: (o) => ({ ...o, signature: fromHex("0018000b000100000100") }),
    },
  ];
  test.each(cases)("$name → $wantCode", async ({ mutate, wantCode }) => {
    const err = await verifyQuote(mutate(await base())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuoteVerificationError);
    expect((err as QuoteVerificationError).code).toBe(wantCode);
  });

  test("mutating a TPMT_PUBLIC after use never verifies against the cached key", async () => {
    const o = await base();
    const pub = parseTpmtPublic(o.akPublic as Uint8Array);
    await verifyQuote({ ...o, akPublic: pub });
    (pub as { unique: Uint8Array }).unique = (pub.unique as Uint8Array).with(
      10,
      ((pub.unique as Uint8Array)[10] ?? 0) ^ 1,
    );
    const err = await verifyQuote({ ...o, akPublic: pub }).catch((e: unknown) => e);
    expect((err as QuoteVerificationError).code).toBe("SIGNATURE_INVALID");
  });

  test("without PCR values only signature and nonce are checked, and the result says so", async () => {
    const { pcrs: _, ...rest } = await base();
    const v = await verifyQuote(rest);
    expect(v.pcrDigestChecked).toBe(false);
    expect(v.pcrs.size).toBe(0);
    expect((await verifyQuote(await base())).pcrDigestChecked).toBe(true);
  });

  test("a signed non-quote is NOT_A_QUOTE, a non-TPM magic NOT_TPM_GENERATED, a SHA-1 signature refused", async () => {
    // Build both with a software key whose TPMT_PUBLIC claims restricted signing.
    const { publicKey, privateKey } = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["sign", "verify"],
    );
    const jwk = await crypto.subtle.exportKey("jwk", publicKey);
    const b64 = (s: string) => new Uint8Array(Buffer.from(s, "base64url"));
    const akPublic = {
      ...parseTpmtPublic(encode(TPMT_PUBLIC, (await import("../templates.ts")).AK_TEMPLATE_ECC_P256)),
      unique: { x: b64(jwk.x as string), y: b64(jwk.y as string) },
    };
    const sign = async (msg: Uint8Array) => {
      const raw = new Uint8Array(
        await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, msg as BufferSource),
      );
      return fromHex(
        `0018000b0020${Buffer.from(raw.subarray(0, 32)).toString("hex")}0020${Buffer.from(raw.subarray(32)).toString("hex")}`,
      );
    };
    // TPMS_ATTEST of type ATTEST_CERTIFY (0x8017) with two empty names.
    const certify = fromHex(`ff5443478017${"00".repeat(33)}`);
    let err = await verifyQuote({
      akPublic,
      attest: certify,
      signature: await sign(certify),
      nonce: new Uint8Array(0),
      pcrs: new Map(),
    }).catch((e: unknown) => e);
    expect((err as QuoteVerificationError).code).toBe("NOT_A_QUOTE");
    const notTpm = flip(certify, 0);
    err = await verifyQuote({
      akPublic,
      attest: notTpm,
      signature: await sign(notTpm),
      nonce: new Uint8Array(0),
      pcrs: new Map(),
    }).catch((e: unknown) => e);
    expect((err as QuoteVerificationError).code).toBe("NOT_TPM_GENERATED");

    // SHA-1 signatures: rejected unless allowSha1 (key scheme NULL so the scheme check does not fire).
    const nullScheme = {
      ...akPublic,
      parameters: { ...(akPublic.parameters as object), scheme: { scheme: TPM_ALG.NULL, details: null } },
    } as typeof akPublic;
    const raw = new Uint8Array(
      await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-1" }, privateKey, certify as BufferSource),
    );
    const sha1Sig = fromHex(
      `001800040020${Buffer.from(raw.subarray(0, 32)).toString("hex")}0020${Buffer.from(raw.subarray(32)).toString("hex")}`,
    );
    const base = { akPublic: nullScheme, attest: certify, signature: sha1Sig, nonce: new Uint8Array(0) };
    err = await verifyQuote(base).catch((e: unknown) => e);
    expect((err as QuoteVerificationError).code).toBe("UNSUPPORTED_ALGORITHM");
    err = await verifyQuote({ ...base, allowSha1: true }).catch((e: unknown) => e);
    expect((err as QuoteVerificationError).code).toBe("NOT_A_QUOTE");
  });
});
