import { bits, empty, type Infer, sized, sizedOf, struct, u16, u32, union } from "@asterism/codec";
import { MAX_ECC_KEY_BYTES, MAX_RSA_KEY_BYTES, TPM_ALG } from "../constants.ts";
import { NULL_ARM, TPM2B_DIGEST, TPMI_ALG_HASH_OR_NULL, TPMS_SCHEME_HASH } from "./basic.ts";

/**
 * Part 2 §8.3.2 "TPMA_OBJECT": table 31. Bits 0, 3, 8–9, 12–15 and 20–31 are reserved and must be zero.
 */
export const TPMA_OBJECT = bits(
  u32,
  {
    fixedTPM: [1, 1],
    stClear: [2, 2],
    fixedParent: [4, 4],
    sensitiveDataOrigin: [5, 5],
    userWithAuth: [6, 6],
    adminWithPolicy: [7, 7],
    noDA: [10, 10],
    encryptedDuplication: [11, 11],
    restricted: [16, 16],
    decrypt: [17, 17],
    sign: [18, 18],
    x509sign: [19, 19],
  },
  { name: "TPMA_OBJECT" },
);
export type TPMA_OBJECT = Infer<typeof TPMA_OBJECT>;

/** Part 2 §11.1.3 TPMT_SYM_DEF_OBJECT: `algorithm`, `keyBits[algorithm]`, `mode[algorithm]`. */
export const TPMT_SYM_DEF_OBJECT = struct("TPMT_SYM_DEF_OBJECT", {
  algorithm: u16,
  keyBits: union("algorithm", { [TPM_ALG.AES]: u16, [TPM_ALG.XOR]: u16, ...NULL_ARM }, "TPMU_SYM_KEY_BITS"),
  mode: union("algorithm", { [TPM_ALG.AES]: u16, [TPM_ALG.XOR]: empty, ...NULL_ARM }, "TPMU_SYM_MODE"),
});

/** Part 2 §11.2.4.2 TPMT_RSA_SCHEME: `scheme`, `details[scheme]` (TPMU_ASYM_SCHEME). */
export const TPMT_RSA_SCHEME = struct("TPMT_RSA_SCHEME", {
  scheme: u16,
  details: union(
    "scheme",
    {
      [TPM_ALG.RSASSA]: TPMS_SCHEME_HASH,
      [TPM_ALG.RSAPSS]: TPMS_SCHEME_HASH,
      [TPM_ALG.OAEP]: TPMS_SCHEME_HASH,
      [TPM_ALG.RSAES]: empty,
      ...NULL_ARM,
    },
    "TPMU_ASYM_SCHEME",
  ),
});

/** Part 2 §11.1.11 TPMS_SCHEME_ECDAA: `hashAlg`, `count`. */
const TPMS_SCHEME_ECDAA = struct("TPMS_SCHEME_ECDAA", { hashAlg: u16, count: u16 });

/** Part 2 §11.2.5.6 TPMT_ECC_SCHEME: `scheme`, `details[scheme]`. */
export const TPMT_ECC_SCHEME = struct("TPMT_ECC_SCHEME", {
  scheme: u16,
  details: union(
    "scheme",
    {
      [TPM_ALG.ECDSA]: TPMS_SCHEME_HASH,
      [TPM_ALG.ECDAA]: TPMS_SCHEME_ECDAA,
      [TPM_ALG.SM2]: TPMS_SCHEME_HASH,
      [TPM_ALG.ECSCHNORR]: TPMS_SCHEME_HASH,
      [TPM_ALG.ECDH]: TPMS_SCHEME_HASH,
      ...NULL_ARM,
    },
    "TPMU_ASYM_SCHEME",
  ),
});

/** Part 2 §11.2.3.2 TPMT_KDF_SCHEME: `scheme`, `details[scheme]`. */
export const TPMT_KDF_SCHEME = struct("TPMT_KDF_SCHEME", {
  scheme: u16,
  details: union(
    "scheme",
    {
      [TPM_ALG.MGF1]: TPMS_SCHEME_HASH,
      [TPM_ALG.KDF1_SP800_56A]: TPMS_SCHEME_HASH,
      [TPM_ALG.KDF2]: TPMS_SCHEME_HASH,
      [TPM_ALG.KDF1_SP800_108]: TPMS_SCHEME_HASH,
      ...NULL_ARM,
    },
    "TPMU_KDF_SCHEME",
  ),
});

/** Part 2 §11.1.23 TPMT_KEYEDHASH_SCHEME: `scheme`, `details[scheme]` (HMAC: hash; XOR: hash + kdf). */
export const TPMT_KEYEDHASH_SCHEME = struct("TPMT_KEYEDHASH_SCHEME", {
  scheme: u16,
  details: union(
    "scheme",
    {
      [TPM_ALG.HMAC]: TPMS_SCHEME_HASH,
      [TPM_ALG.XOR]: struct("TPMS_SCHEME_XOR", { hashAlg: u16, kdf: u16 }),
      ...NULL_ARM,
    },
    "TPMU_SCHEME_KEYEDHASH",
  ),
});

/** Part 2 §12.2.3.5 TPMS_RSA_PARMS: symmetric, scheme, keyBits, exponent (0 = 2^16 + 1). */
export const TPMS_RSA_PARMS = struct("TPMS_RSA_PARMS", {
  symmetric: TPMT_SYM_DEF_OBJECT,
  scheme: TPMT_RSA_SCHEME,
  keyBits: u16,
  exponent: u32,
});

/** Part 2 §12.2.3.6 TPMS_ECC_PARMS: symmetric, scheme, curveID, kdf. */
export const TPMS_ECC_PARMS = struct("TPMS_ECC_PARMS", {
  symmetric: TPMT_SYM_DEF_OBJECT,
  scheme: TPMT_ECC_SCHEME,
  curveID: u16,
  kdf: TPMT_KDF_SCHEME,
});

/** Part 2 §11.2.4.5 TPM2B_PUBLIC_KEY_RSA: the modulus, ≤ MAX_RSA_KEY_BYTES. */
export const TPM2B_PUBLIC_KEY_RSA = sized(u16, { max: MAX_RSA_KEY_BYTES, name: "TPM2B_PUBLIC_KEY_RSA" });

/** Part 2 §11.2.5.1 TPM2B_ECC_PARAMETER: one coordinate or scalar, ≤ MAX_ECC_KEY_BYTES. */
export const TPM2B_ECC_PARAMETER = sized(u16, { max: MAX_ECC_KEY_BYTES, name: "TPM2B_ECC_PARAMETER" });

/** Part 2 §11.2.5.2 TPMS_ECC_POINT: `x`, `y`. */
export const TPMS_ECC_POINT = struct("TPMS_ECC_POINT", { x: TPM2B_ECC_PARAMETER, y: TPM2B_ECC_PARAMETER });

/**
 * Part 2 §12.2.4 "TPMT_PUBLIC": table 221.
 * | type             | TPMI_ALG_PUBLIC |
 * | nameAlg          | +TPMI_ALG_HASH |
 * | objectAttributes | TPMA_OBJECT |
 * | authPolicy       | TPM2B_DIGEST |
 * | [type]parameters | TPMU_PUBLIC_PARMS |
 * | [type]unique     | TPMU_PUBLIC_ID |
 */
export const TPMT_PUBLIC = struct("TPMT_PUBLIC", {
  type: u16,
  nameAlg: TPMI_ALG_HASH_OR_NULL,
  objectAttributes: TPMA_OBJECT,
  authPolicy: TPM2B_DIGEST,
  parameters: union(
    "type",
    {
      [TPM_ALG.RSA]: TPMS_RSA_PARMS,
      [TPM_ALG.ECC]: TPMS_ECC_PARMS,
      [TPM_ALG.KEYEDHASH]: struct("TPMS_KEYEDHASH_PARMS", { scheme: TPMT_KEYEDHASH_SCHEME }),
      [TPM_ALG.SYMCIPHER]: struct("TPMS_SYMCIPHER_PARMS", { sym: TPMT_SYM_DEF_OBJECT }),
    },
    "TPMU_PUBLIC_PARMS",
  ),
  unique: union(
    "type",
    {
      [TPM_ALG.RSA]: TPM2B_PUBLIC_KEY_RSA,
      [TPM_ALG.ECC]: TPMS_ECC_POINT,
      [TPM_ALG.KEYEDHASH]: TPM2B_DIGEST,
      [TPM_ALG.SYMCIPHER]: TPM2B_DIGEST,
    },
    "TPMU_PUBLIC_ID",
  ),
});

/** Parsed TPMT_PUBLIC. `parameters` and `unique` are narrowed through {@link rsaParams}/{@link eccParams}. */
export type TPMT_PUBLIC = Infer<typeof TPMT_PUBLIC>;
export type TPMS_RSA_PARMS = Infer<typeof TPMS_RSA_PARMS>;
export type TPMS_ECC_PARMS = Infer<typeof TPMS_ECC_PARMS>;
export type TPMS_ECC_POINT = Infer<typeof TPMS_ECC_POINT>;

/** Largest TPMT_PUBLIC we accept: RSA-4096 with a SHA-512 policy is well under 1 KiB. */
const MAX_PUBLIC_SIZE = 1024;

/** Part 2 §12.2.5 "TPM2B_PUBLIC": `size` then exactly that many bytes of TPMT_PUBLIC. */
export const TPM2B_PUBLIC = sizedOf(u16, TPMT_PUBLIC, { max: MAX_PUBLIC_SIZE, name: "TPM2B_PUBLIC" });

/** Narrow an RSA public area (type checked by the caller against TPM_ALG.RSA). */
export function rsaParams(pub: TPMT_PUBLIC): { parms: TPMS_RSA_PARMS; modulus: Uint8Array } | undefined {
  return pub.type === TPM_ALG.RSA
    ? { parms: pub.parameters as TPMS_RSA_PARMS, modulus: pub.unique as Uint8Array }
    : undefined;
}

/** Narrow an ECC public area. */
export function eccParams(pub: TPMT_PUBLIC): { parms: TPMS_ECC_PARMS; point: TPMS_ECC_POINT } | undefined {
  return pub.type === TPM_ALG.ECC
    ? { parms: pub.parameters as TPMS_ECC_PARMS, point: pub.unique as TPMS_ECC_POINT }
    : undefined;
}
