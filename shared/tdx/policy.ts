import { bytesEqual, constantTimeEqual, fromHex, toHex } from "@asterism/bytes";
import * as v from "valibot";
import { ab } from "./_internal.ts";
import { TdxPolicyError } from "./errors.ts";
import type { TdxQuote } from "./quote.ts";

const hex = (bytes: number) =>
  v.pipe(v.string(), v.regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `exactly ${bytes} bytes of hex`));
const svn16 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffff));

/**
 * Owner policy over an authentic TDX quote. Every field is optional and says what absence means. Hex is
 * either case; lengths are exact (no zero-padding of short values, unlike Constellation's CompareExtraData).
 */
export const TdxPolicySchema = v.strictObject({
  /** MRTD (48 bytes): build-time TD measurement. Absent: not checked. */
  mrTd: v.optional(hex(48)),
  /** RTMR0 (48 bytes): firmware configuration. Absent: not checked. */
  rtmr0: v.optional(hex(48)),
  /** RTMR1 (48 bytes): OS loader / kernel. Absent: not checked. */
  rtmr1: v.optional(hex(48)),
  /** RTMR2 (48 bytes): OS; Asterism extends the cluster ID here (see `clusterIdRtmr2`). Absent: not checked. */
  rtmr2: v.optional(hex(48)),
  /** RTMR3 (48 bytes). Absent: not checked. */
  rtmr3: v.optional(hex(48)),
  /** MRSEAM (48 bytes): the TDX module measurement. Absent: not checked. */
  mrSeam: v.optional(hex(48)),
  /** XFAM (8 bytes, as stored): exact. Absent: not checked. */
  xfam: v.optional(hex(8)),
  /** TD_ATTRIBUTES (8 bytes, as stored): exact. Absent: not checked (debug is checked regardless). */
  tdAttributes: v.optional(hex(8)),
  /** Allow TD_ATTRIBUTES.DEBUG (bit 0). Absent: false — a debug TD's memory is readable by the host. */
  allowDebug: v.optional(v.boolean()),
  /** Minimum TEE_TCB_SVN (16 bytes), compared byte by byte (each component ≥). Absent: not checked. */
  minimumTeeTcbSvn: v.optional(hex(16)),
  /** Minimum QE SVN of the quote header. Absent: not checked. */
  minimumQeSvn: v.optional(svn16),
  /** Minimum PCE SVN of the quote header. Absent: not checked. */
  minimumPceSvn: v.optional(svn16),
  /** QE vendor ID (16 bytes), Intel's is 939a7233f79c4ca9940a0db3957f0607. Absent: not checked. */
  qeVendorId: v.optional(hex(16)),
  /** MRCONFIGID (48 bytes). Absent: not checked. */
  mrConfigId: v.optional(hex(48)),
  /** MROWNER (48 bytes). Absent: not checked. */
  mrOwner: v.optional(hex(48)),
  /** MROWNERCONFIG (48 bytes). Absent: not checked. */
  mrOwnerConfig: v.optional(hex(48)),
  /** REPORTDATA, exactly 64 bytes, compared in constant time. Absent: not checked here (variants bind it). */
  reportData: v.optional(hex(64)),
});
export type TdxPolicy = v.InferOutput<typeof TdxPolicySchema>;

/** Intel's QE vendor ID (Intel TDX DCAP Quoting Library API, "QE Vendor ID"). */
export const INTEL_QE_VENDOR_ID = "939a7233f79c4ca9940a0db3957f0607";

/** Validate a policy document; throws {@link TdxPolicyError} `POLICY_INVALID`. */
export function parseTdxPolicy(json: unknown): TdxPolicy {
  const r = v.safeParse(TdxPolicySchema, json);
  if (!r.success) {
    const issue = r.issues[0];
    throw new TdxPolicyError("POLICY_INVALID", "Cannot parse TDX policy", {
      expected: issue?.expected ?? "the policy schema",
      actual: `${v.getDotPath(issue) ?? "<root>"}: ${issue?.message ?? "invalid"}`,
    });
  }
  return r.output;
}

/**
 * Check an authentic quote against `policy` (house style: validate = "acceptable?", after verify =
 * "authentic?"). Throws the first {@link TdxPolicyError} found.
 */
export function validateQuote(quote: TdxQuote, policy: TdxPolicy): void {
  const b = quote.body;
  const exact = (name: string, want: string | undefined, got: Uint8Array) => {
    if (want !== undefined && !bytesEqual(fromHex(want), got))
      throw new TdxPolicyError("MEASUREMENT_MISMATCH", `${name} does not match the policy`, {
        expected: want.toLowerCase(),
        actual: toHex(got),
      });
  };
  exact("MRTD", policy.mrTd, b.mrTd);
  exact("RTMR0", policy.rtmr0, b.rtmr0);
  exact("RTMR1", policy.rtmr1, b.rtmr1);
  exact("RTMR2", policy.rtmr2, b.rtmr2);
  exact("RTMR3", policy.rtmr3, b.rtmr3);
  exact("MRSEAM", policy.mrSeam, b.mrSeam);
  exact("MRCONFIGID", policy.mrConfigId, b.mrConfigId);
  exact("MROWNER", policy.mrOwner, b.mrOwner);
  exact("MROWNERCONFIG", policy.mrOwnerConfig, b.mrOwnerConfig);

  if (!policy.allowDebug && ((b.tdAttributes[0] ?? 0) & 0x01) !== 0)
    throw new TdxPolicyError(
      "DEBUG_FORBIDDEN",
      "TD_ATTRIBUTES.DEBUG is set and the policy forbids debug TDs",
      {
        actual: toHex(b.tdAttributes),
      },
    );
  for (const [name, want, got] of [
    ["TD_ATTRIBUTES", policy.tdAttributes, b.tdAttributes],
    ["XFAM", policy.xfam, b.xfam],
  ] as const)
    if (want !== undefined && !bytesEqual(fromHex(want), got))
      throw new TdxPolicyError("ATTRIBUTES_MISMATCH", `${name} does not match the policy`, {
        expected: want.toLowerCase(),
        actual: toHex(got),
      });

  if (policy.minimumTeeTcbSvn !== undefined) {
    const min = fromHex(policy.minimumTeeTcbSvn);
    if (!min.every((m, i) => (b.teeTcbSvn[i] ?? 0) >= m))
      throw new TdxPolicyError("SVN_TOO_LOW", "TEE_TCB_SVN is below the minimum", {
        expected: `each component ≥ ${policy.minimumTeeTcbSvn.toLowerCase()}`,
        actual: toHex(b.teeTcbSvn),
      });
  }
  for (const [name, min, got] of [
    ["QE", policy.minimumQeSvn, quote.header.qeSvn],
    ["PCE", policy.minimumPceSvn, quote.header.pceSvn],
  ] as const)
    if (min !== undefined && got < min)
      throw new TdxPolicyError(
        "SVN_TOO_LOW",
        `${name} security-version number is less than the required minimum`,
        {
          expected: `≥ ${min}`,
          actual: String(got),
        },
      );

  if (policy.qeVendorId !== undefined && !bytesEqual(fromHex(policy.qeVendorId), quote.header.qeVendorId))
    throw new TdxPolicyError("QE_VENDOR_MISMATCH", "QE vendor ID does not match the policy", {
      expected: policy.qeVendorId.toLowerCase(),
      actual: toHex(quote.header.qeVendorId),
    });

  if (policy.reportData !== undefined && !constantTimeEqual(fromHex(policy.reportData), b.reportData))
    throw new TdxPolicyError("REPORT_DATA_MISMATCH", "REPORTDATA does not match the expected 64 bytes");
}

/**
 * The RTMR2 value of a node whose only RTMR2 event is the cluster ID (Constellation's convention:
 * SHA-384(0⁴⁸ ‖ SHA-384(clusterID)), reference/constellation.md §5.3).
 */
export async function clusterIdRtmr2(clusterId: Uint8Array): Promise<Uint8Array> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-384", ab(clusterId)));
  const joined = new Uint8Array(96);
  joined.set(digest, 48);
  return new Uint8Array(await crypto.subtle.digest("SHA-384", joined));
}
