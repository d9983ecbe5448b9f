import type { Validator, VerifiedClaims } from "@asterism/attestation";
import { bytesEqual, fromBase64, fromBase64Url, toHex } from "@asterism/bytes";
import * as v from "valibot";
import { sha256 } from "../_internal.ts";
import { TdxParseError, TdxPolicyError } from "../errors.ts";
import { createCertCache } from "../pck-chain.ts";
import { type TdxPolicy, validateQuote } from "../policy.ts";
import { MAX_QUOTE_SIZE } from "../quote.ts";
import { type VerifiedQuote, verifyQuote } from "../verify.ts";
import { b64, checkMeasurements, measurementsOf, parseDocument, type TdxValidatorDeps } from "./common.ts";

/** Bound on the HCL runtime data (a JSON document of a few KiB). */
const MAX_RUNTIME_DATA = 64 * 1024;

/** azure-tdx InstanceInfo: `{"AttestationReport": b64 TDX quote, "RuntimeData": b64 HCL runtime data}`. */
export const AzureTdxInstanceInfoSchema = v.object({
  AttestationReport: v.pipe(b64, v.maxLength(Math.ceil(MAX_QUOTE_SIZE / 3) * 4)),
  RuntimeData: v.pipe(b64, v.maxLength(Math.ceil(MAX_RUNTIME_DATA / 3) * 4)),
});

/** The part of the HCL runtime data we use: the first JWK is the vTPM attestation key (HCL AK). */
const RuntimeDataSchema = v.object({
  keys: v.pipe(
    v.array(v.object({ kty: v.literal("RSA"), n: v.string(), e: v.string() })),
    v.minLength(1),
    v.maxLength(16),
  ),
});

/** An RSA public key as the TPM reports it (modulus bytes, exponent; TPM exponent 0 means 65537). */
export interface RsaPublic {
  readonly n: Uint8Array;
  readonly e: number;
}

function bigEndian(b: Uint8Array): number {
  if (b.length === 0 || b.length > 4) return -1;
  return b.reduce((acc, x) => acc * 256 + x, 0);
}

/**
 * The TDX half of azure-tdx: verify the quote (with collateral), require SHA-256(RuntimeData) =
 * REPORTDATA[0:32], and require the runtime data's `keys[0]` (`n`, `e`: base64url, big-endian per
 * RFC 7518) to be the vTPM attestation key `ak`. That chains the vTPM quote (verified by the TPM module)
 * to the TD: the HCL inside the TD put the AK into runtime data, and the TD's quote signs its hash.
 * REPORTDATA[32:64] is not checked (Azure's HCL does not define it).
 */
export async function verifyAzureTdxInstanceInfo(
  instanceInfo: Uint8Array,
  ak: RsaPublic,
  deps: TdxValidatorDeps,
): Promise<{ verified: VerifiedQuote; runtimeData: Uint8Array }> {
  const info = parseDocument(AzureTdxInstanceInfoSchema, instanceInfo, "azure-tdx instance info");
  const runtimeData = fromBase64(info.RuntimeData);
  const verified = await verifyQuote(fromBase64(info.AttestationReport), {
    now: deps.now(),
    getCollateral: deps.getCollateral,
    ...(deps.certCache === undefined ? {} : { certCache: deps.certCache }),
    ...(deps.root === undefined ? {} : { root: deps.root }),
    ...(deps.acceptedTcbStatuses === undefined ? {} : { acceptedTcbStatuses: deps.acceptedTcbStatuses }),
    ...(deps.acceptedQeTcbStatuses === undefined
      ? {}
      : { acceptedQeTcbStatuses: deps.acceptedQeTcbStatuses }),
  });
  const digest = await sha256(runtimeData);
  if (!bytesEqual(digest, verified.quote.body.reportData.subarray(0, 32)))
    throw new TdxPolicyError(
      "REPORT_DATA_MISMATCH",
      "REPORTDATA[0:32] is not SHA-256 of the HCL runtime data",
      {
        expected: toHex(digest),
        actual: toHex(verified.quote.body.reportData.subarray(0, 32)),
      },
    );
  const rd = parseDocument(RuntimeDataSchema, runtimeData, "HCL runtime data");
  const key = rd.keys[0];
  let n: Uint8Array;
  let e: number;
  try {
    n = fromBase64Url((key?.n ?? "").replace(/=+$/, ""));
    e = bigEndian(fromBase64Url((key?.e ?? "").replace(/=+$/, "")));
  } catch (cause) {
    throw new TdxParseError("DOCUMENT_MALFORMED", "Cannot parse HCL runtime data key", { cause });
  }
  const akE = ak.e === 0 ? 65537 : ak.e;
  if (!bytesEqual(n, ak.n) || e !== akE)
    throw new TdxPolicyError("REPORT_DATA_MISMATCH", "HCL runtime data key is not the vTPM attestation key");
  return { verified, runtimeData };
}

/** What the TPM module's vTPM verification returns to this validator. */
export interface VtpmVerification {
  /** The attestation key that signed the vTPM quote. */
  readonly ak: RsaPublic;
  /** The document's InstanceInfo bytes (bound into the TPM quote's qualifying data by the TPM module). */
  readonly instanceInfo: Uint8Array;
  readonly userData: Uint8Array;
  /** Quoted PCRs (SHA-256 bank), for details. */
  readonly pcrs: Readonly<Record<number, string>>;
}

/** Options of {@link createAzureTdxValidator}. */
export interface AzureTdxValidatorOptions extends TdxValidatorDeps {
  /**
   * Verifies the vTPM part of the document (AK quote signature, qualifying data = SHA-256(instanceInfo ‖
   * SHA-256(userData ‖ nonce)), PCR digest, event log) and returns the AK. Supplied by the TPM module;
   * injected so this module does not depend on it.
   */
  readonly verifyVtpm: (document: Uint8Array, nonce: Uint8Array) => Promise<VtpmVerification>;
  readonly policy?: Omit<TdxPolicy, "reportData">;
}

/** Validator for `azure-tdx` (reference/constellation.md §5.2): vTPM part injected, TDX part here. */
export function createAzureTdxValidator(opts: AzureTdxValidatorOptions): Validator {
  const deps = { ...opts, certCache: opts.certCache ?? createCertCache() };
  return {
    variant: "azure-tdx",
    async validate(document: Uint8Array, nonce: Uint8Array): Promise<VerifiedClaims> {
      const vtpm = await opts.verifyVtpm(document, nonce);
      const { verified } = await verifyAzureTdxInstanceInfo(vtpm.instanceInfo, vtpm.ak, deps);
      validateQuote(verified.quote, opts.policy ?? {});
      const measurements = measurementsOf(verified.quote.body);
      checkMeasurements(measurements, opts.measurements);
      return {
        variant: "azure-tdx",
        userData: vtpm.userData,
        measurements,
        warnings: verified.warnings,
        details: {
          tcbStatus: verified.tcb?.status,
          qeTcbStatus: verified.qeTcb?.status,
          fmspc: verified.pck.fmspc,
          vtpmPcrs: vtpm.pcrs,
        },
      };
    },
  };
}
