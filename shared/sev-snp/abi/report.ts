import {
  at,
  bytes,
  CodecError,
  constant,
  decode,
  encode,
  layout,
  reserved,
  u8,
  u32le,
  u64le,
} from "@asterism/codec";
import { SnpParseError } from "../errors.ts";
import { GUEST_POLICY, type GuestPolicy, SIGNER_INFO, type SignerInfo } from "./policy.ts";

/** Size of ATTESTATION_REPORT: 0x4A0 bytes in every version. */
export const REPORT_SIZE = 0x4a0;
/** The signed part of the report: bytes 0x000..0x29F (the signature starts at 0x2A0). */
export const SIGNED_SIZE = 0x2a0;
/** Report versions this parser understands (and their spec revisions). */
export const REPORT_VERSIONS = [2, 3, 5] as const;
export type ReportVersion = (typeof REPORT_VERSIONS)[number];

/*
 * ATTESTATION_REPORT, SEV-SNP Firmware ABI specification (AMD pub. 56860) rev 1.55 Table 22 / rev 1.57
 * Table 23 "ATTESTATION_REPORT Structure" (version 5 per rev 1.58). Offsets in hex:
 *
 *   000h      VERSION            4  Version number of this attestation report (2, 3 or 5)
 *   004h      GUEST_SVN          4  The guest SVN
 *   008h      POLICY             8  The guest policy
 *   010h      FAMILY_ID         16  The family ID provided at launch
 *   020h      IMAGE_ID          16  The image ID provided at launch
 *   030h      VMPL               4  The request VMPL for the attestation report
 *   034h      SIGNATURE_ALGO     4  The signature algorithm used to sign this report (1 = ECDSA P-384/SHA-384)
 *   038h      CURRENT_TCB        8  CurrentTcb (TCB_VERSION)
 *   040h      PLATFORM_INFO      8  Information about the platform
 *   048h      (signer info)      4  AUTHOR_KEY_EN bit 0, MASK_CHIP_KEY bit 1, SIGNING_KEY bits 4:2, rest reserved
 *   04Ch      -                  4  Reserved, MBZ
 *   050h      REPORT_DATA       64  Guest-provided data
 *   090h      MEASUREMENT       48  The measurement calculated at launch
 *   0C0h      HOST_DATA         32  Data provided by the hypervisor at launch
 *   0E0h      ID_KEY_DIGEST     48  SHA-384 digest of the ID public key that signed the ID block
 *   110h      AUTHOR_KEY_DIGEST 48  SHA-384 digest of the Author public key that certified the ID key
 *   140h      REPORT_ID         32  Report ID of this guest
 *   160h      REPORT_ID_MA      32  Report ID of this guest's migration agent
 *   180h      REPORTED_TCB       8  Reported TCB version used to derive the VCEK that signed this report
 *   188h      CPUID_FAM_ID       1  (v3+) CPUID family ID; v2: reserved
 *   189h      CPUID_MOD_ID       1  (v3+) CPUID model ID; v2: reserved
 *   18Ah      CPUID_STEP         1  (v3+) CPUID stepping; v2: reserved
 *   18Bh-19Fh -                 21  Reserved, MBZ
 *   1A0h      CHIP_ID           64  Identifier unique to the chip (zero when MASK_CHIP_ID or VLEK-signed)
 *   1E0h      COMMITTED_TCB      8  CommittedTcb
 *   1E8h      CURRENT_BUILD      1  The build number of CurrentVersion
 *   1E9h      CURRENT_MINOR      1  The minor number of CurrentVersion
 *   1EAh      CURRENT_MAJOR      1  The major number of CurrentVersion
 *   1EBh      -                  1  Reserved, MBZ
 *   1ECh      COMMITTED_BUILD    1  The build number of CommittedVersion
 *   1EDh      COMMITTED_MINOR    1  The minor version of CommittedVersion
 *   1EEh      COMMITTED_MAJOR    1  The major version of CommittedVersion
 *   1EFh      -                  1  Reserved, MBZ
 *   1F0h      LAUNCH_TCB         8  The CurrentTcb at the time the guest was launched or imported
 *   1F8h      LAUNCH_MIT_VECTOR  8  (v5) Mitigation vector at launch; v2/v3: reserved
 *   200h      CURRENT_MIT_VECTOR 8  (v5) Current mitigation vector; v2/v3: reserved
 *   208h-29Fh -                152  Reserved, MBZ
 *   2A0h-49Fh SIGNATURE        512  Signature of bytes 000h..29Fh (Table "ECDSA P-384 Signature":
 *                                   R at 00h and S at 48h, 72 bytes each, little-endian, zero-extended;
 *                                   bytes 90h..1FFh reserved)
 */

const HEAD = {
  guestSvn: at(0x004, u32le),
  policy: at(0x008, GUEST_POLICY),
  familyId: at(0x010, bytes(16)),
  imageId: at(0x020, bytes(16)),
  vmpl: at(0x030, u32le),
  signatureAlgo: at(0x034, u32le),
  currentTcb: at(0x038, u64le),
  platformInfo: at(0x040, u64le),
  signerInfo: at(0x048, SIGNER_INFO),
  reserved0: at(0x04c, reserved(4)),
  reportData: at(0x050, bytes(64)),
  measurement: at(0x090, bytes(48)),
  hostData: at(0x0c0, bytes(32)),
  idKeyDigest: at(0x0e0, bytes(48)),
  authorKeyDigest: at(0x110, bytes(48)),
  reportId: at(0x140, bytes(32)),
  reportIdMa: at(0x160, bytes(32)),
  reportedTcb: at(0x180, u64le),
};

const CPUID = {
  cpuidFamId: at(0x188, u8),
  cpuidModId: at(0x189, u8),
  cpuidStep: at(0x18a, u8),
  reserved1: at(0x18b, reserved(0x1a0 - 0x18b)),
};

const MIDDLE = {
  chipId: at(0x1a0, bytes(64)),
  committedTcb: at(0x1e0, u64le),
  currentBuild: at(0x1e8, u8),
  currentMinor: at(0x1e9, u8),
  currentMajor: at(0x1ea, u8),
  reserved2: at(0x1eb, reserved(1)),
  committedBuild: at(0x1ec, u8),
  committedMinor: at(0x1ed, u8),
  committedMajor: at(0x1ee, u8),
  reserved3: at(0x1ef, reserved(1)),
  launchTcb: at(0x1f0, u64le),
};

/**
 * The 512-byte signature field: only the low 48 bytes of R and S carry a P-384 value, so the 24 high bytes of
 * each are checked as zero like every other reserved range.
 */
const SIGNATURE = {
  signatureR: at(0x2a0, bytes(48)),
  reservedR: at(0x2d0, reserved(24)),
  signatureS: at(0x2e8, bytes(48)),
  reservedS: at(0x318, reserved(24)),
  reservedSig: at(0x330, reserved(REPORT_SIZE - 0x330)),
};

/** ATTESTATION_REPORT version 2 (Milan firmware before ABI 1.55). */
export const ATTESTATION_REPORT_V2 = layout("ATTESTATION_REPORT_V2", REPORT_SIZE, {
  version: at(0x000, constant(u32le, 2)),
  ...HEAD,
  reserved1: at(0x188, reserved(0x1a0 - 0x188)),
  ...MIDDLE,
  reserved4: at(0x1f8, reserved(SIGNED_SIZE - 0x1f8)),
  ...SIGNATURE,
});

/** ATTESTATION_REPORT version 3 (ABI 1.55+): adds CPUID family, model and stepping. */
export const ATTESTATION_REPORT_V3 = layout("ATTESTATION_REPORT_V3", REPORT_SIZE, {
  version: at(0x000, constant(u32le, 3)),
  ...HEAD,
  ...CPUID,
  ...MIDDLE,
  reserved4: at(0x1f8, reserved(SIGNED_SIZE - 0x1f8)),
  ...SIGNATURE,
});

/** ATTESTATION_REPORT version 5 (ABI 1.58, Genoa/Turin firmware): adds the launch and current mitigation vectors. */
export const ATTESTATION_REPORT_V5 = layout("ATTESTATION_REPORT_V5", REPORT_SIZE, {
  version: at(0x000, constant(u32le, 5)),
  ...HEAD,
  ...CPUID,
  ...MIDDLE,
  launchMitVector: at(0x1f8, u64le),
  currentMitVector: at(0x200, u64le),
  reserved4: at(0x208, reserved(SIGNED_SIZE - 0x208)),
  ...SIGNATURE,
});

/** Fields every version has (bytes as raw Uint8Array, TCB_VERSIONs as raw u64 — decode with `decodeTcb`). */
interface ReportCommon {
  readonly guestSvn: number;
  readonly policy: GuestPolicy;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: bigint;
  readonly platformInfo: bigint;
  readonly signerInfo: SignerInfo;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: bigint;
  readonly chipId: Uint8Array;
  readonly committedTcb: bigint;
  readonly currentBuild: number;
  readonly currentMinor: number;
  readonly currentMajor: number;
  readonly committedBuild: number;
  readonly committedMinor: number;
  readonly committedMajor: number;
  readonly launchTcb: bigint;
  /** R, 48 bytes little-endian. */
  readonly signatureR: Uint8Array;
  /** S, 48 bytes little-endian. */
  readonly signatureS: Uint8Array;
}

/** A version 2 report. */
export interface AttestationReportV2 extends ReportCommon {
  readonly version: 2;
}
/** A version 3 report. */
export interface AttestationReportV3 extends ReportCommon {
  readonly version: 3;
  readonly cpuidFamId: number;
  readonly cpuidModId: number;
  readonly cpuidStep: number;
}
/** A version 5 report. */
export interface AttestationReportV5 extends Omit<AttestationReportV3, "version"> {
  readonly version: 5;
  readonly launchMitVector: bigint;
  readonly currentMitVector: bigint;
}

/** A parsed ATTESTATION_REPORT, discriminated by `version`. */
export type AttestationReportFields = AttestationReportV2 | AttestationReportV3 | AttestationReportV5;

/** A parsed report together with the exact bytes it was parsed from (what the signature covers). */
export type AttestationReport = AttestationReportFields & {
  /** The 0x4A0 report bytes exactly (trailing input, where allowed, is not included). */
  readonly raw: Uint8Array;
};

/** Options of {@link parseReport}. */
export interface ParseReportOptions {
  /**
   * Accept input longer than 0x4A0 bytes and ignore what follows. Off by default. Azure's HCL report and
   * Constellation's `attestation.bin` (1204 bytes: the report and 20 bytes of HCL trailer) need it; say so
   * at the call site.
   */
  readonly allowTrailing?: boolean;
}

function tableFor(version: number) {
  switch (version) {
    case 2:
      return ATTESTATION_REPORT_V2;
    case 3:
      return ATTESTATION_REPORT_V3;
    case 5:
      return ATTESTATION_REPORT_V5;
    default:
      return undefined;
  }
}

/**
 * Parse an SNP ATTESTATION_REPORT (versions 2, 3 and 5). Every reserved range and reserved bit is checked.
 * Passes no judgement on authenticity or policy.
 *
 * Throws {@link SnpParseError}: `REPORT_SIZE`, `UNSUPPORTED_VERSION`, `RESERVED_NONZERO`, `INVALID_FIELD`.
 *
 * @example
 * const report = parseReport(bytes);
 * report.version; // 2
 * toHex(report.measurement);
 */
export function parseReport(input: Uint8Array, opts: ParseReportOptions = {}): AttestationReport {
  if (input.length < REPORT_SIZE || (input.length > REPORT_SIZE && !opts.allowTrailing))
    throw new SnpParseError("REPORT_SIZE", "Cannot parse SNP report", {
      expected: opts.allowTrailing ? `at least ${REPORT_SIZE} bytes` : `${REPORT_SIZE} bytes`,
      actual: `${input.length} bytes`,
    });
  const raw = input.subarray(0, REPORT_SIZE);
  const version =
    (raw[0] as number) | ((raw[1] as number) << 8) | ((raw[2] as number) << 16) | ((raw[3] as number) << 24);
  const table = tableFor(version);
  if (table === undefined)
    throw new SnpParseError("UNSUPPORTED_VERSION", "Cannot parse SNP report", {
      expected: `VERSION in ${REPORT_VERSIONS.join(", ")}`,
      actual: String(version >>> 0),
    });
  try {
    return { ...(decode(table, raw) as AttestationReportFields), raw };
  } catch (err) {
    throw toParseError(err);
  }
}

function toParseError(err: unknown): SnpParseError {
  if (!(err instanceof CodecError)) throw err;
  const code = err.code === "RESERVED_NONZERO" ? "RESERVED_NONZERO" : "INVALID_FIELD";
  return new SnpParseError(code, `Cannot parse SNP report: ${err.action}`, {
    ...(err.expected === undefined ? {} : { expected: err.expected }),
    ...(err.actual === undefined ? {} : { actual: err.actual }),
    cause: err,
  });
}

/**
 * Serialize report fields to the 0x4A0-byte wire form (inverse of {@link parseReport}; `raw` is ignored).
 * Used for round-trip tests and by test fakes that sign synthetic reports.
 */
export function serializeReport(report: AttestationReportFields): Uint8Array {
  const table = tableFor(report.version);
  if (table === undefined)
    throw new SnpParseError("UNSUPPORTED_VERSION", "Cannot serialize SNP report", {
      expected: REPORT_VERSIONS.join(", "),
      actual: String(report.version),
    });
  try {
    // The three tables share field names; each reads only its own fields from `report`.
    return encode(table as typeof ATTESTATION_REPORT_V5, report as AttestationReportV5);
  } catch (err) {
    throw toParseError(err);
  }
}
