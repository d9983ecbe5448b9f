/**
 * TPM 2.0 constants, spelled as TPM 2.0 Library Part 2 ("Structures", rev 1.59) spells them.
 * Only the values this module uses are listed; unknown values arriving from a TPM or a quote are
 * rejected by the structure tables, never guessed.
 */

/** Part 2 §6.3 "TPM_ALG_ID": algorithm identifiers. */
export const TPM_ALG = {
  RSA: 0x0001,
  SHA1: 0x0004,
  HMAC: 0x0005,
  AES: 0x0006,
  MGF1: 0x0007,
  KEYEDHASH: 0x0008,
  XOR: 0x000a,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  SM3_256: 0x0012,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  OAEP: 0x0017,
  ECDSA: 0x0018,
  ECDH: 0x0019,
  ECDAA: 0x001a,
  SM2: 0x001b,
  ECSCHNORR: 0x001c,
  KDF1_SP800_56A: 0x0020,
  KDF2: 0x0021,
  KDF1_SP800_108: 0x0022,
  ECC: 0x0023,
  SYMCIPHER: 0x0025,
  CFB: 0x0043,
} as const;

/** Part 2 §6.4 "TPM_ECC_CURVE". */
export const TPM_ECC_CURVE = {
  NIST_P256: 0x0003,
  NIST_P384: 0x0004,
  NIST_P521: 0x0005,
} as const;

/** Part 2 §6.9 "TPM_ST": structure tags. */
export const TPM_ST = {
  RSP_COMMAND: 0x00c4,
  NULL: 0x8000,
  NO_SESSIONS: 0x8001,
  SESSIONS: 0x8002,
  ATTEST_NV: 0x8014,
  ATTEST_COMMAND_AUDIT: 0x8015,
  ATTEST_SESSION_AUDIT: 0x8016,
  ATTEST_CERTIFY: 0x8017,
  ATTEST_QUOTE: 0x8018,
  ATTEST_TIME: 0x8019,
  ATTEST_CREATION: 0x801a,
  CREATION: 0x8021,
  VERIFIED: 0x8022,
  AUTH_SECRET: 0x8023,
  HASHCHECK: 0x8024,
  AUTH_SIGNED: 0x8025,
} as const;

/** Part 2 §6.5.2 "TPM_CC": command codes of the commands this module sends. */
export const TPM_CC = {
  EvictControl: 0x00000120,
  PCR_Event: 0x0000013c,
  CreatePrimary: 0x00000131,
  Startup: 0x00000144,
  ActivateCredential: 0x00000147,
  NV_Read: 0x0000014e,
  PolicySecret: 0x00000151,
  Quote: 0x00000158,
  FlushContext: 0x00000165,
  MakeCredential: 0x00000168,
  NV_ReadPublic: 0x00000169,
  ReadPublic: 0x00000173,
  StartAuthSession: 0x00000176,
  GetCapability: 0x0000017a,
  GetRandom: 0x0000017b,
  PCR_Read: 0x0000017e,
  PCR_Extend: 0x00000182,
} as const;

/** Part 2 §7.4 "TPM_RH": permanent handles. */
export const TPM_RH = {
  OWNER: 0x40000001,
  NULL: 0x40000007,
  /** TPM_RS_PW: the password authorization session (Part 2 §7.4). */
  RS_PW: 0x40000009,
  LOCKOUT: 0x4000000a,
  ENDORSEMENT: 0x4000000b,
  PLATFORM: 0x4000000c,
} as const;

/** Part 2 §7.2 "TPM_HT": the handle type is the top byte of a handle. */
export const TPM_HT = {
  PCR: 0x00,
  NV_INDEX: 0x01,
  HMAC_SESSION: 0x02,
  POLICY_SESSION: 0x03,
  PERMANENT: 0x40,
  TRANSIENT: 0x80,
  PERSISTENT: 0x81,
} as const;

/** Part 2 §6.5 "TPM_SU": Startup types. */
export const TPM_SU = { CLEAR: 0x0000, STATE: 0x0001 } as const;

/** Part 2 §6.11 "TPM_SE": session types. */
export const TPM_SE = { HMAC: 0x00, POLICY: 0x01, TRIAL: 0x03 } as const;

/** Part 2 §6.12 "TPM_CAP": capability selectors. */
export const TPM_CAP = {
  ALGS: 0x00000000,
  HANDLES: 0x00000001,
  COMMANDS: 0x00000002,
  PCRS: 0x00000005,
  TPM_PROPERTIES: 0x00000006,
  ECC_CURVES: 0x00000008,
} as const;

/** Part 2 §6.2 "TPM_GENERATED": the magic that starts every TPMS_ATTEST the TPM signs ("\xffTCG"). */
export const TPM_GENERATED_VALUE = 0xff544347;

/**
 * Part 2 §10.5.3 IMPLEMENTATION_PCR / PCR_SELECT_MAX: we accept selections of up to 32 bytes (256 PCRs);
 * real TPMs have 24 PCRs (3 bytes) and the spec's TPMS_PCR_SELECTION.sizeofSelect is a UINT8.
 */
export const PCR_SELECT_MAX = 32;

/** Part 2 §10.9.7 TPML_PCR_SELECTION: at most HASH_COUNT banks; 16 is larger than any TPM's. */
export const HASH_COUNT_MAX = 16;

/** The largest digest (SHA-512), bounding TPM2B_DIGEST (Part 2 §10.4.2, sizeof(TPMU_HA)). */
export const MAX_DIGEST_SIZE = 64;

/** Part 2 §11.2.4.5 MAX_RSA_KEY_BYTES: 512 covers RSA-4096. */
export const MAX_RSA_KEY_BYTES = 512;

/** Part 2 §11.2.5.1 MAX_ECC_KEY_BYTES: 66 covers P-521 (some TPMs pad to 72 for SM2 / BN; allow 128). */
export const MAX_ECC_KEY_BYTES = 128;

/** TPM2B_MAX_NV_BUFFER bound (Part 2 §10.4.8, MAX_NV_BUFFER_SIZE is 1024–2048 on real TPMs). */
export const MAX_NV_BUFFER_SIZE = 2048;
