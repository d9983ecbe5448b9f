import { toHex } from "@asterism/bytes";
import type { X509Certificate } from "@peculiar/x509";
import * as v from "valibot";
import type { Collateral, TcbStatus } from "../collateral.ts";
import { TdxParseError, TdxPolicyError } from "../errors.ts";
import type { CertCache } from "../pck-chain.ts";
import type { TdReportBody } from "../structures.ts";
import type { CollateralRequest } from "../verify.ts";
import type { VerifiedCollateral } from "../verify-collateral.ts";

/**
 * Expected measurements by index (0 = MRTD, 1–4 = RTMR0–3), lower- or upper-case hex of 48 bytes. Every
 * listed index is compared exactly; unlisted indexes are not checked. (A simple stand-in until the shared
 * measurements-policy module lands; warn-only entries are not supported here.)
 */
export const TdxMeasurementsSchema = v.record(
  v.pipe(v.string(), v.regex(/^[0-4]$/, "an index 0–4")),
  v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{96}$/, "48 bytes of hex")),
);
export type TdxMeasurements = v.InferOutput<typeof TdxMeasurementsSchema>;

/** Dependencies shared by the TDX variant validators. */
export interface TdxValidatorDeps {
  readonly now: () => Date;
  /** Trust anchor; default the built-in Intel SGX Root CA. */
  readonly root?: X509Certificate;
  /** Collateral for the quote's platform (typically a PCS client with cache/bundle). Required: no TCB, no trust. */
  readonly getCollateral: (req: CollateralRequest) => Promise<Collateral | VerifiedCollateral>;
  readonly measurements: TdxMeasurements;
  readonly acceptedTcbStatuses?: readonly TcbStatus[];
  readonly acceptedQeTcbStatuses?: readonly TcbStatus[];
  /** Certificate memo shared across validations; default: one per validator (see `createCertCache`). */
  readonly certCache?: CertCache;
}

/** MRTD and RTMR0–3 as the measurements map (index 0 = MRTD, 1–4 = RTMR0–3), lower-case hex. */
export function measurementsOf(body: TdReportBody): Record<number, string> {
  return {
    0: toHex(body.mrTd),
    1: toHex(body.rtmr0),
    2: toHex(body.rtmr1),
    3: toHex(body.rtmr2),
    4: toHex(body.rtmr3),
  };
}

/** Compare every expected index exactly. */
export function checkMeasurements(actual: Record<number, string>, expected: TdxMeasurements): void {
  for (const [k, want] of Object.entries(expected)) {
    const got = actual[Number(k)];
    if (got !== want.toLowerCase())
      throw new TdxPolicyError("MEASUREMENT_MISMATCH", `Measurement ${k} does not match`, {
        expected: want.toLowerCase(),
        actual: got ?? "(absent)",
      });
  }
}

/** Parse a JSON document envelope with `schema`; failures are `DOCUMENT_MALFORMED`. */
export function parseDocument<S extends v.GenericSchema>(
  schema: S,
  bytes: Uint8Array,
  what: string,
): v.InferOutput<S> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new TdxParseError("DOCUMENT_MALFORMED", `Cannot parse ${what}: not UTF-8 JSON`, { cause });
  }
  const r = v.safeParse(schema, json);
  if (!r.success)
    throw new TdxParseError("DOCUMENT_MALFORMED", `Cannot parse ${what}`, {
      expected: r.issues[0]?.expected ?? "the document schema",
      actual: `${v.getDotPath(r.issues[0]) ?? "<root>"}: ${r.issues[0]?.message ?? "invalid"}`,
    });
  return r.output;
}

/** Strict standard base64 (Go's encoding/json encodes []byte so). */
export const b64 = v.pipe(
  v.string(),
  v.regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, "base64"),
);
