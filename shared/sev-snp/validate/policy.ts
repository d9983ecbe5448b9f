import { fromHex } from "@asterism/bytes";
import * as v from "valibot";
import { PRODUCTS } from "../abi/product.ts";
import { SnpPolicyError } from "../errors.ts";

const HEX = /^[0-9a-fA-F]*$/;

/** Hex of exactly `n` bytes, parsed to bytes. Wrong lengths are policy errors, never padded or cut. */
function hexBytes(n: number) {
  return v.pipe(
    v.string(),
    v.regex(HEX, "must be hex"),
    v.length(2 * n, `must be ${n} bytes (${2 * n} hex digits)`),
    v.transform((s) => fromHex(s)),
  );
}

const U8 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255));

/** A u64 given as a decimal or 0x-hex string (JSON numbers cannot carry 64 bits), or a safe integer. */
const U64 = v.pipe(
  v.union([
    v.pipe(v.string(), v.regex(/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/, "must be a decimal or 0x-hex u64")),
    v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  ]),
  v.transform((x) => BigInt(x)),
  v.check((x) => x <= 0xffffffffffffffffn, "must fit in 64 bits"),
);

/**
 * A minimum TCB: either per component (`{ "bootloader": 2, "tee": 0, "snp": 6, "microcode": 93 }`, plus
 * `fmc` on Turin), or the raw TCB_VERSION u64 (as go-sev-guest's `minimum_tcb`), decoded per product.
 */
const TcbSchema = v.union([
  v.strictObject({
    bootloader: U8,
    tee: U8,
    snp: U8,
    microcode: U8,
    fmc: v.optional(U8),
  }),
  v.pipe(
    U64,
    v.transform((raw) => ({ raw })),
  ),
]);

/**
 * The SEV-SNP acceptance policy (house style §15: every field says what absent means). Unknown fields are
 * rejected: a misspelt field must not silently switch a check off.
 */
export const SnpPolicySchema = v.strictObject({
  /** Required product line. Absent: any product whose roots we trust. */
  product: v.optional(v.picklist(PRODUCTS)),
  /** Required signing key kind. Absent: VCEK or VLEK. */
  signer: v.optional(v.picklist(["vcek", "vlek"])),
  /** Accept a guest policy with DEBUG=1. Absent: false — a debuggable guest's memory is readable by the host. */
  allowDebug: v.optional(v.boolean(), false),
  /** Accept a guest policy with SMT=1. Absent: true (SMT is on in every public cloud). */
  allowSmt: v.optional(v.boolean(), true),
  /** Accept a guest policy with MIGRATE_MA=1. Absent: false. */
  allowMigrationAgent: v.optional(v.boolean(), false),
  /** Minimum firmware version CURRENT_MAJOR.CURRENT_MINOR, e.g. "1.55". Absent: not checked. */
  minFirmwareVersion: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^([0-9]{1,3})\.([0-9]{1,3})$/, "must be MAJOR.MINOR"),
      v.transform((s) => s.split(".").map(Number) as [number, number]),
      v.check(([a, b]) => a <= 255 && b <= 255, "parts must be at most 255"),
    ),
  ),
  /** Minimum CURRENT_BUILD. Absent: not checked. */
  minBuild: v.optional(U8),
  /** Required VMPL of the report request. Absent: 0 (the most privileged level: the guest's own kernel). */
  vmpl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3)), 0),
  /** Minimum CURRENT_TCB, REPORTED_TCB and COMMITTED_TCB, per component. Absent: not checked. */
  minimumTcb: v.optional(TcbSchema),
  /** Minimum LAUNCH_TCB, per component. Absent: not checked. */
  minimumLaunchTcb: v.optional(TcbSchema),
  /**
   * Accept CURRENT_TCB ahead of COMMITTED_TCB (firmware updated but not yet committed; it can still be
   * rolled back). Absent: false. CURRENT_TCB below COMMITTED_TCB is always rejected.
   */
  permitProvisionalFirmware: v.optional(v.boolean(), false),
  /**
   * Accepted launch MEASUREMENT(s), 48 bytes each. Absent: not checked here — the attestation layer must
   * always set it for production use (Constellation never checked it; we do).
   */
  measurement: v.optional(v.union([hexBytes(48), v.pipe(v.array(hexBytes(48)), v.minLength(1))])),
  /** Exact REPORT_DATA, 64 bytes. Absent: not checked (the caller binds its nonce some other way). */
  reportData: v.optional(hexBytes(64)),
  /** Exact HOST_DATA, 32 bytes. Absent: not checked. */
  hostData: v.optional(hexBytes(32)),
  /** Exact FAMILY_ID, 16 bytes. Absent: not checked. */
  familyId: v.optional(hexBytes(16)),
  /** Exact IMAGE_ID, 16 bytes. Absent: not checked. */
  imageId: v.optional(hexBytes(16)),
  /** Exact REPORT_ID, 32 bytes. Absent: not checked. */
  reportId: v.optional(hexBytes(32)),
  /** Exact REPORT_ID_MA, 32 bytes. Absent: not checked. */
  reportIdMa: v.optional(hexBytes(32)),
  /** Exact CHIP_ID, 64 bytes. Absent: not checked (VCEK-signed reports are bound to their chip anyway). */
  chipId: v.optional(hexBytes(64)),
  /**
   * Accepted ID_KEY_DIGESTs (SHA-384 of the ID key, 48 bytes each) and what a mismatch means: `equal`
   * rejects, `warnOnly` accepts with a warning. Absent: not checked.
   */
  idKeyDigests: v.optional(
    v.strictObject({
      accepted: v.pipe(v.array(hexBytes(48)), v.minLength(1)),
      enforcement: v.picklist(["equal", "warnOnly"]),
    }),
  ),
  /** Require an ID block (ID_KEY_DIGEST not zero). Absent: false. */
  requireIdBlock: v.optional(v.boolean(), false),
  /** Require an author key (AUTHOR_KEY_EN = 1). Absent: false. */
  requireAuthorKey: v.optional(v.boolean(), false),
  /** Minimum GUEST_SVN. Absent: not checked. */
  minGuestSvn: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff))),
  /** PLATFORM_INFO bits that may be set (others must be clear). Absent: any. */
  platformInfoAllowed: v.optional(U64),
  /** PLATFORM_INFO bits that must be set (e.g. 0x2 TSME_EN). Absent: none. */
  platformInfoRequired: v.optional(U64),
});

/** A policy document as written (JSON input). */
export type SnpPolicyInput = v.InferInput<typeof SnpPolicySchema>;
/** A parsed policy (defaults applied, hex decoded). */
export type SnpPolicy = v.InferOutput<typeof SnpPolicySchema>;

/**
 * Parse and check a policy document. Throws {@link SnpPolicyError} `POLICY_INVALID` naming the first
 * offending field.
 *
 * @example
 * const policy = parseSnpPolicy({ measurement: "5677f1de…", minimumTcb: { bootloader: 2, tee: 0, snp: 6, microcode: 93 } });
 */
export function parseSnpPolicy(input: unknown): SnpPolicy {
  const r = v.safeParse(SnpPolicySchema, input);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join(".") ?? "<root>";
  throw new SnpPolicyError("POLICY_INVALID", `Invalid SNP policy field ${path}`, {
    expected: issue.expected ?? issue.message,
    actual: issue.received,
  });
}
