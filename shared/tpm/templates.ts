import { fromHex } from "@asterism/bytes";
import { TPM_ALG, TPM_ECC_CURVE } from "./constants.ts";
import type { TPMA_OBJECT, TPMT_PUBLIC } from "./structures/public.ts";

const ATTRS_OFF: TPMA_OBJECT = {
  fixedTPM: 0,
  stClear: 0,
  fixedParent: 0,
  sensitiveDataOrigin: 0,
  userWithAuth: 0,
  adminWithPolicy: 0,
  noDA: 0,
  encryptedDuplication: 0,
  restricted: 0,
  decrypt: 0,
  sign: 0,
  x509sign: 0,
};

/**
 * TCG EK Credential Profile 2.0 §B.3.3, "Template L-1" / "L-2" authPolicy: PolicySecret(TPM_RH_ENDORSEMENT)
 * digest with SHA-256.
 */
export const EK_AUTH_POLICY_SHA256 = fromHex(
  "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa",
);

/** EK attributes: fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt (0x000300b2). */
const EK_ATTRIBUTES: TPMA_OBJECT = {
  ...ATTRS_OFF,
  fixedTPM: 1,
  fixedParent: 1,
  sensitiveDataOrigin: 1,
  adminWithPolicy: 1,
  restricted: 1,
  decrypt: 1,
};

const AES_128_CFB = { algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB };
const SYM_NULL = { algorithm: TPM_ALG.NULL, keyBits: null, mode: null };

/**
 * TCG EK Credential Profile 2.0 §B.3.3 "Template L-1": RSA 2048 EK (AES-128-CFB, scheme NULL, exponent 0,
 * unique = 256 zero bytes). Same template → same key on the same TPM, so the EK can be re-created at will.
 */
export const EK_TEMPLATE_RSA_2048: TPMT_PUBLIC = {
  type: TPM_ALG.RSA,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: EK_ATTRIBUTES,
  authPolicy: EK_AUTH_POLICY_SHA256,
  parameters: {
    symmetric: AES_128_CFB,
    scheme: { scheme: TPM_ALG.NULL, details: null },
    keyBits: 2048,
    exponent: 0,
  },
  unique: new Uint8Array(256),
};

/** TCG EK Credential Profile 2.0 §B.3.4 "Template L-2": ECC NIST P-256 EK (unique x, y = 32 zero bytes). */
export const EK_TEMPLATE_ECC_P256: TPMT_PUBLIC = {
  type: TPM_ALG.ECC,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: EK_ATTRIBUTES,
  authPolicy: EK_AUTH_POLICY_SHA256,
  parameters: {
    symmetric: AES_128_CFB,
    scheme: { scheme: TPM_ALG.NULL, details: null },
    curveID: TPM_ECC_CURVE.NIST_P256,
    kdf: { scheme: TPM_ALG.NULL, details: null },
  },
  unique: { x: new Uint8Array(32), y: new Uint8Array(32) },
};

/**
 * Restricted signing AK attributes: fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, noDA,
 * restricted, sign (0x00050472), as go-tpm-tools' AK templates and GCE's vTPM AK. "restricted" is what
 * makes quotes meaningful: the TPM refuses to sign data that starts with TPM_GENERATED_VALUE unless it
 * produced it (Part 1 §25.2.4).
 */
const AK_ATTRIBUTES: TPMA_OBJECT = {
  ...ATTRS_OFF,
  fixedTPM: 1,
  fixedParent: 1,
  sensitiveDataOrigin: 1,
  userWithAuth: 1,
  noDA: 1,
  restricted: 1,
  sign: 1,
};

/** Restricted RSA-2048 signing key, RSASSA-PKCS1-v1_5 / SHA-256. */
export const AK_TEMPLATE_RSA_2048: TPMT_PUBLIC = {
  type: TPM_ALG.RSA,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: AK_ATTRIBUTES,
  authPolicy: new Uint8Array(0),
  parameters: {
    symmetric: SYM_NULL,
    scheme: { scheme: TPM_ALG.RSASSA, details: { hashAlg: TPM_ALG.SHA256 } },
    keyBits: 2048,
    exponent: 0,
  },
  unique: new Uint8Array(0),
};

/** Restricted ECC NIST P-256 signing key, ECDSA / SHA-256. */
export const AK_TEMPLATE_ECC_P256: TPMT_PUBLIC = {
  type: TPM_ALG.ECC,
  nameAlg: TPM_ALG.SHA256,
  objectAttributes: AK_ATTRIBUTES,
  authPolicy: new Uint8Array(0),
  parameters: {
    symmetric: SYM_NULL,
    scheme: { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } },
    curveID: TPM_ECC_CURVE.NIST_P256,
    kdf: { scheme: TPM_ALG.NULL, details: null },
  },
  unique: { x: new Uint8Array(0), y: new Uint8Array(0) },
};
