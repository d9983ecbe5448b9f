import { bits, type Codec, refine, u32le, u64le } from "@asterism/codec";

/**
 * SNP guest policy, SEV-SNP Firmware ABI spec rev 1.57/1.58, Table 9 "Guest Policy Structure":
 * ```
 * 7:0   ABI_MINOR            minimum ABI minor version required for this guest to run
 * 15:8  ABI_MAJOR            minimum ABI major version required for this guest to run
 * 16    SMT                  0: SMT is disallowed; 1: SMT is allowed
 * 17    -                    reserved, must be one
 * 18    MIGRATE_MA           0: association with a migration agent is disallowed; 1: allowed
 * 19    DEBUG                0: debugging is disallowed; 1: allowed
 * 20    SINGLE_SOCKET        0: may be activated on multiple sockets; 1: single socket only
 * 21    CXL_ALLOW            0: CXL cannot be populated with devices or memory; 1: can
 * 22    MEM_AES_256_XTS      0: AES-128-XEX or AES-256-XTS; 1: AES-256-XTS required
 * 23    RAPL_DIS             0: RAPL allowed; 1: RAPL must be disabled
 * 24    CIPHERTEXT_HIDING    0: ciphertext hiding may be off; 1: must be enabled
 * 25    PAGE_SWAP_DISABLE    0: page swap allowed; 1: SNP_PAGE_MOVE/SWAP disabled
 * 63:26 -                    reserved, MBZ
 * ```
 */
const GUEST_POLICY_BITS = bits(
  u64le,
  {
    abiMinor: [7, 0],
    abiMajor: [15, 8],
    smt: [16, 16],
    reservedMbo: [17, 17],
    migrateMa: [18, 18],
    debug: [19, 19],
    singleSocket: [20, 20],
    cxlAllow: [21, 21],
    memAes256Xts: [22, 22],
    raplDis: [23, 23],
    ciphertextHiding: [24, 24],
    pageSwapDisable: [25, 25],
  },
  { name: "GUEST_POLICY" },
);

/** The decoded guest policy; flags are 0 or 1. */
export type GuestPolicy = ReturnType<typeof GUEST_POLICY_BITS.read>;

/** GUEST_POLICY with bit 17 required to be one (as go-sev-guest `ParseSnpPolicy` requires). */
export const GUEST_POLICY: Codec<GuestPolicy> = refine(
  GUEST_POLICY_BITS,
  (p) => p.reservedMbo === 1,
  "reserved bit 17 set to one",
);

/**
 * The `signer_info` word at 0x48 of ATTESTATION_REPORT (rev 1.57 Table 23):
 * ```
 * 0     AUTHOR_KEY_EN   1 when the digest of the author key is in AUTHOR_KEY_DIGEST
 * 1     MASK_CHIP_KEY   the value of MASK_CHIP_KEY (chip key masked: report signature zero)
 * 4:2   SIGNING_KEY     0: VCEK; 1: VLEK; 2–6: reserved; 7: none
 * 31:5  -               reserved, MBZ
 * ```
 */
export const SIGNER_INFO = bits(
  u32le,
  { authorKeyEn: [0, 0], maskChipKey: [1, 1], signingKey: [4, 2] },
  { name: "SIGNER_INFO" },
);
export type SignerInfo = ReturnType<typeof SIGNER_INFO.read>;

/** SIGNING_KEY values (rev 1.57 Table 23). */
export const SIGNING_KEY = { VCEK: 0, VLEK: 1, NONE: 7 } as const;

/**
 * PLATFORM_INFO (rev 1.58 Table 24), decoded for display. The report's raw u64 is kept as is: new firmware
 * adds flags, and a verifier that rejected unknown platform flags would break on firmware updates without
 * gaining anything (the policy decides which bits are acceptable).
 * ```
 * 0 SMT_EN | 1 TSME_EN | 2 ECC_EN | 3 RAPL_DIS | 4 CIPHERTEXT_HIDING_EN | 5 ALIAS_CHECK_COMPLETE | 7 TIO_EN
 * ```
 */
export function decodePlatformInfo(raw: bigint): Record<string, boolean> {
  const bit = (n: number) => ((raw >> BigInt(n)) & 1n) === 1n;
  return {
    smtEnabled: bit(0),
    tsmeEnabled: bit(1),
    eccEnabled: bit(2),
    raplDisabled: bit(3),
    ciphertextHidingEnabled: bit(4),
    aliasCheckComplete: bit(5),
    tioEnabled: bit(7),
  };
}
