import { bytesEqual, constantTimeEqual, isAllZero, toHex } from "@asterism/bytes";
import type { Product } from "../abi/product.ts";
import type { AttestationReport } from "../abi/report.ts";
import { decodeTcb, formatTcb, type TcbParts, tcbBelow, tcbEqual } from "../abi/tcb.ts";
import { SnpPolicyError, type SnpPolicyErrorCode } from "../errors.ts";
import type { SnpPolicy } from "./policy.ts";

/**
 * What validation looks at: a verified report (a `VerifiedSnpReport` fits). Tests may build one from an
 * edited report to exercise policy checks without re-signing (constellation VECTORS.md "Signature versus
 * policy").
 */
export interface SnpValidationInput {
  readonly report: AttestationReport;
  readonly product: Product;
  readonly signer: "vcek" | "vlek";
  /** The TCB the VCEK/VLEK certifies; absent skips the CURRENT_TCB ≥ certificate TCB check. */
  readonly endorsementKey?: { readonly tcb: TcbParts };
}

/** The verdict: every failure (coded) and every warning, never just `false`. */
export interface SnpValidationResult {
  readonly valid: boolean;
  readonly failures: readonly SnpPolicyError[];
  readonly warnings: readonly string[];
}

type Tcb = NonNullable<SnpPolicy["minimumTcb"]>;

function policyTcb(t: Tcb, product: Product): TcbParts {
  return "raw" in t ? decodeTcb(t.raw, product) : t;
}

/**
 * Check a verified report against `policy`, collecting every failure. Pure: no I/O, no clock.
 *
 * @example
 * const result = validateSnpReport(verified, parseSnpPolicy(json));
 * if (!result.valid) throw result.failures[0];
 */
export function validateSnpReport(input: SnpValidationInput, policy: SnpPolicy): SnpValidationResult {
  const { report, product } = input;
  const failures: SnpPolicyError[] = [];
  const warnings: string[] = [];
  const fail = (code: SnpPolicyErrorCode, action: string, expected: string, actual: string) =>
    failures.push(new SnpPolicyError(code, action, { expected, actual }));
  const exact = (
    code: SnpPolicyErrorCode,
    name: string,
    want: Uint8Array | undefined,
    got: Uint8Array,
    secretish = false,
  ) => {
    if (want === undefined) return;
    const same = secretish ? constantTimeEqual(want, got) : bytesEqual(want, got);
    if (!same) fail(code, `${name} does not match the policy`, toHex(want), toHex(got));
  };

  if (policy.product !== undefined && policy.product !== product)
    fail("PRODUCT_MISMATCH", "Report comes from another product", policy.product, product);
  if (policy.signer !== undefined && policy.signer !== input.signer)
    fail("SIGNER_MISMATCH", "Report signed by another key kind", policy.signer, input.signer);

  // Guest policy (ABI spec Table 9).
  const gp = report.policy;
  if (gp.debug === 1 && !policy.allowDebug)
    fail("DEBUG_ALLOWED", "Guest policy allows debugging", "DEBUG=0", "DEBUG=1");
  if (gp.smt === 1 && !policy.allowSmt) fail("SMT_ALLOWED", "Guest policy allows SMT", "SMT=0", "SMT=1");
  if (gp.migrateMa === 1 && !policy.allowMigrationAgent)
    fail("MIGRATION_AGENT_ALLOWED", "Guest policy allows a migration agent", "MIGRATE_MA=0", "MIGRATE_MA=1");

  // Firmware version and build.
  if (policy.minFirmwareVersion !== undefined) {
    const [maj, min] = policy.minFirmwareVersion;
    const cur = report.currentMajor * 256 + report.currentMinor;
    if (cur < maj * 256 + min)
      fail(
        "ABI_TOO_OLD",
        "Firmware version below the policy minimum",
        `≥ ${maj}.${min}`,
        `${report.currentMajor}.${report.currentMinor}`,
      );
  }
  if (policy.minBuild !== undefined && report.currentBuild < policy.minBuild)
    fail(
      "ABI_TOO_OLD",
      "Firmware build below the policy minimum",
      `≥ ${policy.minBuild}`,
      String(report.currentBuild),
    );

  if (report.vmpl !== policy.vmpl)
    fail("VMPL_MISMATCH", "Report requested from another VMPL", String(policy.vmpl), String(report.vmpl));

  // TCB: decode every TCB_VERSION for the product; an undecodable one is a failure, not a crash.
  let tcb: { current: TcbParts; reported: TcbParts; committed: TcbParts; launch: TcbParts } | undefined;
  try {
    tcb = {
      current: decodeTcb(report.currentTcb, product),
      reported: decodeTcb(report.reportedTcb, product),
      committed: decodeTcb(report.committedTcb, product),
      launch: decodeTcb(report.launchTcb, product),
    };
  } catch (err) {
    fail("TCB_TOO_LOW", `Cannot decode report TCB for ${product}`, "valid TCB_VERSIONs", String(err));
  }
  if (tcb !== undefined) {
    if (policy.minimumTcb !== undefined) {
      let min: TcbParts | undefined;
      try {
        min = policyTcb(policy.minimumTcb, product);
      } catch {
        fail(
          "TCB_TOO_LOW",
          "Policy minimum TCB cannot be decoded",
          `a ${product} TCB_VERSION`,
          "reserved bytes set",
        );
      }
      if (min !== undefined)
        for (const [name, t] of [
          ["CURRENT_TCB", tcb.current],
          ["REPORTED_TCB", tcb.reported],
          ["COMMITTED_TCB", tcb.committed],
        ] as const) {
          const below = tcbBelow(t, min);
          if (below !== undefined)
            fail(
              "TCB_TOO_LOW",
              `${name} is lower than the policy minimum TCB (${below})`,
              `≥ ${formatTcb(min)}`,
              formatTcb(t),
            );
        }
    }
    if (policy.minimumLaunchTcb !== undefined) {
      let min: TcbParts | undefined;
      try {
        min = policyTcb(policy.minimumLaunchTcb, product);
      } catch {
        fail(
          "LAUNCH_TCB_TOO_LOW",
          "Policy minimum launch TCB cannot be decoded",
          `a ${product} TCB_VERSION`,
          "reserved bytes set",
        );
      }
      const below = min === undefined ? undefined : tcbBelow(tcb.launch, min);
      if (min !== undefined && below !== undefined)
        fail(
          "LAUNCH_TCB_TOO_LOW",
          `LAUNCH_TCB is lower than the policy minimum launch TCB (${below})`,
          `≥ ${formatTcb(min)}`,
          formatTcb(tcb.launch),
        );
    }
    const rollback = tcbBelow(tcb.current, tcb.committed);
    if (rollback !== undefined)
      fail(
        "CURRENT_BELOW_COMMITTED",
        `CURRENT_TCB is lower than the report's COMMITTED_TCB (${rollback})`,
        `≥ ${formatTcb(tcb.committed)}`,
        formatTcb(tcb.current),
      );
    else if (!tcbEqual(tcb.current, tcb.committed)) {
      if (policy.permitProvisionalFirmware)
        warnings.push(
          `provisional firmware: CURRENT_TCB ${formatTcb(tcb.current)} is ahead of COMMITTED_TCB ${formatTcb(tcb.committed)}`,
        );
      else
        fail(
          "PROVISIONAL_FIRMWARE",
          "CURRENT_TCB differs from COMMITTED_TCB (provisional firmware not permitted)",
          formatTcb(tcb.committed),
          formatTcb(tcb.current),
        );
    }
    if (input.endorsementKey !== undefined) {
      const below = tcbBelow(tcb.current, input.endorsementKey.tcb);
      if (below !== undefined)
        fail(
          "CURRENT_BELOW_CERT_TCB",
          `CURRENT_TCB is lower than the TCB of the VCEK/VLEK certificate (${below})`,
          `≥ ${formatTcb(input.endorsementKey.tcb)}`,
          formatTcb(tcb.current),
        );
    }
  }

  // Launch measurement (Constellation never checked it).
  if (policy.measurement !== undefined) {
    const accepted = Array.isArray(policy.measurement) ? policy.measurement : [policy.measurement];
    if (!accepted.some((m) => bytesEqual(m, report.measurement)))
      fail(
        "MEASUREMENT_MISMATCH",
        "Launch MEASUREMENT is not an accepted value",
        accepted.map(toHex).join(" or "),
        toHex(report.measurement),
      );
  }
  // REPORT_DATA carries the verifier's nonce binding: compare in constant time, exact 64 bytes.
  exact("REPORT_DATA_MISMATCH", "REPORT_DATA", policy.reportData, report.reportData, true);
  exact("HOST_DATA_MISMATCH", "HOST_DATA", policy.hostData, report.hostData);
  exact("FAMILY_ID_MISMATCH", "FAMILY_ID", policy.familyId, report.familyId);
  exact("IMAGE_ID_MISMATCH", "IMAGE_ID", policy.imageId, report.imageId);
  exact("REPORT_ID_MISMATCH", "REPORT_ID", policy.reportId, report.reportId);
  exact("REPORT_ID_MA_MISMATCH", "REPORT_ID_MA", policy.reportIdMa, report.reportIdMa);
  exact("CHIP_ID_MISMATCH", "CHIP_ID", policy.chipId, report.chipId);

  if (policy.idKeyDigests !== undefined) {
    const { accepted, enforcement } = policy.idKeyDigests;
    if (!accepted.some((d) => bytesEqual(d, report.idKeyDigest))) {
      const what = `ID_KEY_DIGEST ${toHex(report.idKeyDigest)} is not in the accepted list`;
      if (enforcement === "warnOnly") warnings.push(`${what} (warnOnly)`);
      else
        fail(
          "ID_KEY_UNTRUSTED",
          "Report ID key not trusted",
          accepted.map(toHex).join(" or "),
          toHex(report.idKeyDigest),
        );
    }
  }
  if (policy.requireIdBlock && isAllZero(report.idKeyDigest))
    fail("ID_BLOCK_MISSING", "Guest launched without an ID block", "a non-zero ID_KEY_DIGEST", "zero");
  if (policy.requireAuthorKey && report.signerInfo.authorKeyEn !== 1)
    fail("AUTHOR_KEY_MISSING", "Guest launched without an author key", "AUTHOR_KEY_EN=1", "AUTHOR_KEY_EN=0");

  if (policy.minGuestSvn !== undefined && report.guestSvn < policy.minGuestSvn)
    fail(
      "GUEST_SVN_TOO_LOW",
      "GUEST_SVN below the policy minimum",
      `≥ ${policy.minGuestSvn}`,
      String(report.guestSvn),
    );

  const pi = report.platformInfo;
  if (policy.platformInfoAllowed !== undefined && (pi & ~policy.platformInfoAllowed) !== 0n)
    fail(
      "PLATFORM_INFO_REJECTED",
      "PLATFORM_INFO has bits the policy does not allow",
      `⊆ 0x${policy.platformInfoAllowed.toString(16)}`,
      `0x${pi.toString(16)}`,
    );
  if (
    policy.platformInfoRequired !== undefined &&
    (pi & policy.platformInfoRequired) !== policy.platformInfoRequired
  )
    fail(
      "PLATFORM_INFO_REJECTED",
      "PLATFORM_INFO lacks bits the policy requires",
      `⊇ 0x${policy.platformInfoRequired.toString(16)}`,
      `0x${pi.toString(16)}`,
    );

  return { valid: failures.length === 0, failures, warnings };
}
