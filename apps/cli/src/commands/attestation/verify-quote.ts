import { fromBase64 } from "@asterism/bytes";
import { CodecError, decode } from "@asterism/codec";
import {
  hashInfo,
  type PcrBanks,
  parseTpmsAttest,
  parseTpmtPublic,
  pcrBanksFromJson,
  QuoteVerificationError,
  TPM_ALG,
  TPM2B_PUBLIC,
  type TPMT_PUBLIC,
  verifyQuote,
} from "@asterism/tpm";
import * as v from "valibot";
import { defineCommand } from "../../command.ts";
import { hexOption, readInputFile, readInputText, stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { printVerdict } from "../../verdict.ts";

function readPcrs(path: string): PcrBanks {
  let json: unknown;
  try {
    json = JSON.parse(readInputText(path, "PCR values"));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError("BAD_VALUE", `Invalid --pcrs ${path}`, { expected: "JSON", cause: err });
  }
  try {
    return pcrBanksFromJson(json);
  } catch (err) {
    throw new UsageError("BAD_VALUE", `Invalid --pcrs ${path}`, {
      expected: '{ "sha256": { "0": "<hex>", … } }',
      actual: err instanceof v.ValiError ? v.summarize(err.issues) : String(err),
    });
  }
}

/**
 * The AK file: TPMT_PUBLIC or TPM2B_PUBLIC bytes (tpm2-tools `-f tss`), or a PEM SubjectPublicKeyInfo.
 * A PEM key carries no TPM attributes, so "restricted signing" is assumed and reported as a warning.
 */
async function readAk(path: string, signature: Uint8Array): Promise<{ ak: TPMT_PUBLIC; warnings: string[] }> {
  const bytes = readInputFile(path, "attestation key");
  const text = new TextDecoder().decode(bytes);
  const pem = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(text);
  if (!pem) {
    for (const parse of [() => parseTpmtPublic(bytes), () => decode(TPM2B_PUBLIC, bytes)]) {
      try {
        return { ak: parse(), warnings: [] };
      } catch (err) {
        if (!(err instanceof CodecError)) throw err;
      }
    }
    throw new UsageError("BAD_VALUE", `Cannot parse --ak ${path}`, {
      expected: "TPMT_PUBLIC, TPM2B_PUBLIC or PEM public key",
    });
  }
  const spki = fromBase64((pem[1] ?? "").replace(/\s+/g, ""));
  return {
    ak: await spkiToTpmtPublic(spki, signature),
    warnings: ["AK given as PEM: restricted-signing attribute not verifiable"],
  };
}

/** Stand-in TPMT_PUBLIC for a bare SPKI key, with the signature's scheme (CLI convenience only). */
async function spkiToTpmtPublic(spki: Uint8Array, signature: Uint8Array): Promise<TPMT_PUBLIC> {
  const sigAlg = ((signature[0] ?? 0) << 8) | (signature[1] ?? 0);
  const hashAlg = ((signature[2] ?? 0) << 8) | (signature[3] ?? 0);
  const attrs = {
    fixedTPM: 1,
    stClear: 0,
    fixedParent: 1,
    sensitiveDataOrigin: 1,
    userWithAuth: 1,
    adminWithPolicy: 0,
    noDA: 0,
    encryptedDuplication: 0,
    restricted: 1,
    decrypt: 0,
    sign: 1,
    x509sign: 0,
  };
  const b64u = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? "", "base64url"));
  const tryImport = async (alg: RsaHashedImportParams | EcKeyImportParams) => {
    try {
      return await crypto.subtle.exportKey(
        "jwk",
        await crypto.subtle.importKey("spki", spki as BufferSource, alg, true, ["verify"]),
      );
    } catch {
      return undefined;
    }
  };
  const rsa = await tryImport({ name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" });
  if (rsa) {
    const n = b64u(rsa.n);
    const e = b64u(rsa.e).reduce((acc, b) => acc * 256 + b, 0);
    return {
      type: TPM_ALG.RSA,
      nameAlg: TPM_ALG.SHA256,
      objectAttributes: attrs,
      authPolicy: new Uint8Array(0),
      parameters: {
        symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
        scheme: { scheme: sigAlg, details: { hashAlg } },
        keyBits: n.length * 8,
        exponent: e === 65537 ? 0 : e,
      },
      unique: n,
    };
  }
  for (const [crv, curveID] of [
    ["P-256", 3],
    ["P-384", 4],
    ["P-521", 5],
  ] as const) {
    const ec = await tryImport({ name: "ECDSA", namedCurve: crv });
    if (ec)
      return {
        type: TPM_ALG.ECC,
        nameAlg: TPM_ALG.SHA256,
        objectAttributes: attrs,
        authPolicy: new Uint8Array(0),
        parameters: {
          symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null },
          scheme: { scheme: sigAlg, details: { hashAlg } },
          curveID,
          kdf: { scheme: TPM_ALG.NULL, details: null },
        },
        unique: { x: b64u(ec.x), y: b64u(ec.y) },
      };
  }
  throw new UsageError("BAD_VALUE", "Unsupported PEM public key", { expected: "RSA or ECDSA P-256/384/521" });
}

/** `asterism attestation verify-quote`: check a TPM2_Quote offline (signature, nonce, PCR digest). */
export const verifyQuoteCommand = defineCommand({
  name: "verify-quote",
  summary: "Verify a TPM 2.0 quote (TPMS_ATTEST + TPMT_SIGNATURE) against an attestation key",
  description:
    "Checks the signature (RSASSA, RSAPSS, ECDSA), TPM_GENERATED magic, quote type, the nonce (extraData) and, " +
    "with --pcrs, that exactly the quoted PCRs are given and hash to the quoted pcrDigest. Without --nonce or " +
    "--pcrs those checks are skipped and listed under warnings.",
  options: [
    {
      name: "ak",
      type: "string",
      value: "FILE",
      required: true,
      description: "AK: TPMT_PUBLIC, TPM2B_PUBLIC or PEM",
    },
    {
      name: "quote",
      type: "string",
      value: "FILE",
      required: true,
      description: "TPMS_ATTEST bytes (tpm2_quote -m)",
    },
    {
      name: "signature",
      type: "string",
      value: "FILE",
      required: true,
      description: "TPMT_SIGNATURE bytes (tpm2_quote -s)",
    },
    { name: "nonce", type: "string", value: "HEX", description: "Expected qualifying data (extraData)" },
    {
      name: "pcrs",
      type: "string",
      value: "FILE",
      description: 'PCR values JSON { "sha256": { "0": "<hex>" } }',
    },
  ],
  examples: [
    "asterism attestation verify-quote --ak ak.pub --quote quote.msg --signature quote.sig --nonce 9009",
    "asterism attestation verify-quote --ak ak.pem --quote quote.msg --signature quote.sig --pcrs pcrs.json --json",
  ],
  async run(ctx) {
    const { values } = ctx;
    const attest = readInputFile(stringOption(values["quote"], "quote") as string, "quote");
    const signature = readInputFile(stringOption(values["signature"], "signature") as string, "signature");
    const { ak, warnings } = await readAk(stringOption(values["ak"], "ak") as string, signature);
    const pcrsPath = stringOption(values["pcrs"], "pcrs");
    const pcrs = pcrsPath === undefined ? undefined : readPcrs(pcrsPath);
    let nonce = hexOption(values["nonce"], "nonce");
    if (nonce === undefined) {
      warnings.push("no --nonce: freshness not checked");
      try {
        nonce = parseTpmsAttest(attest).extraData;
      } catch (err) {
        return printVerdict(ctx, {
          valid: false,
          error: new QuoteVerificationError("MALFORMED", "Cannot parse TPMS_ATTEST", { cause: err }),
        });
      }
    }
    if (!pcrs) warnings.push("no --pcrs: PCR digest not checked");
    try {
      const q = await verifyQuote({ akPublic: ak, attest, signature, nonce, ...(pcrs ? { pcrs } : {}) });
      const result = {
        signatureHash: q.signatureHash.name,
        extraData: q.attest.extraData,
        pcrSelect: q.quoteInfo.pcrSelect.map((s) => ({
          bank: hashInfo(s.hash)?.name ?? `0x${s.hash.toString(16)}`,
          pcrs: s.pcrSelect,
        })),
        pcrDigest: q.quoteInfo.pcrDigest,
        pcrDigestChecked: q.pcrDigestChecked,
        clock: q.attest.clockInfo.clock,
        firmwareVersion: q.attest.firmwareVersion,
        warnings,
      };
      const summary = `quote signed with ${q.signatureHash.name}${warnings.length ? ` (warnings: ${warnings.join("; ")})` : ""}`;
      return printVerdict(ctx, { valid: true, result, summary });
    } catch (err) {
      if (err instanceof QuoteVerificationError) return printVerdict(ctx, { valid: false, error: err });
      throw err;
    }
  },
});
