import { sized, struct, u8, u16, u32 } from "@asterism/codec";
import { TPM_CC } from "../constants.ts";
import { command } from "../execute.ts";
import { TPM2B_DIGEST, TPM2B_NAME, TPM2B_NONCE } from "../structures/basic.ts";
import { TPMT_SYM_DEF_OBJECT } from "../structures/public.ts";

/** Part 2 §12.4.3 TPM2B_ID_OBJECT: integrityHMAC ‖ encIdentity, opaque here (≤ 2 + 64 + 2 + 64). */
export const TPM2B_ID_OBJECT = sized(u16, { max: 256, name: "TPM2B_ID_OBJECT" });
/** Part 2 §11.4.33 TPM2B_ENCRYPTED_SECRET: ≤ sizeof(TPMU_ENCRYPTED_SECRET) (RSA-4096 or an ECC point). */
export const TPM2B_ENCRYPTED_SECRET = sized(u16, { max: 512, name: "TPM2B_ENCRYPTED_SECRET" });

/** Part 3 §12.6 "TPM2_MakeCredential": handle (a loaded EK public); credential, objectName → blob, secret. */
export const TPM2_MakeCredential = command({
  name: "TPM2_MakeCredential",
  code: TPM_CC.MakeCredential,
  handles: 1,
  authHandles: 0,
  params: struct("TPM2_MakeCredential", { credential: TPM2B_DIGEST, objectName: TPM2B_NAME }),
  responseHandles: 0,
  response: struct("TPM2_MakeCredential_Response", {
    credentialBlob: TPM2B_ID_OBJECT,
    secret: TPM2B_ENCRYPTED_SECRET,
  }),
});

/**
 * Part 3 §12.5 "TPM2_ActivateCredential": @activateHandle (the AK, USER role), @keyHandle (the EK,
 * ADMIN role); credentialBlob, secret → certInfo. The TPM releases certInfo only if the AK's name is the
 * one the credential was made for and the EK can decrypt the seed.
 */
export const TPM2_ActivateCredential = command({
  name: "TPM2_ActivateCredential",
  code: TPM_CC.ActivateCredential,
  handles: 2,
  authHandles: 2,
  params: struct("TPM2_ActivateCredential", {
    credentialBlob: TPM2B_ID_OBJECT,
    secret: TPM2B_ENCRYPTED_SECRET,
  }),
  responseHandles: 0,
  response: struct("TPM2_ActivateCredential_Response", { certInfo: TPM2B_DIGEST }),
});

/**
 * Part 3 §11.1 "TPM2_StartAuthSession": tpmKey, bind; nonceCaller, encryptedSalt, sessionType,
 * symmetric (TPMT_SYM_DEF), authHash → sessionHandle; nonceTPM.
 */
export const TPM2_StartAuthSession = command({
  name: "TPM2_StartAuthSession",
  code: TPM_CC.StartAuthSession,
  handles: 2,
  authHandles: 0,
  params: struct("TPM2_StartAuthSession", {
    nonceCaller: TPM2B_NONCE,
    encryptedSalt: TPM2B_ENCRYPTED_SECRET,
    sessionType: u8,
    symmetric: TPMT_SYM_DEF_OBJECT,
    authHash: u16,
  }),
  responseHandles: 1,
  response: struct("TPM2_StartAuthSession_Response", { nonceTPM: TPM2B_NONCE }),
});

/** Part 2 §10.7.5 TPMT_TK_AUTH: tag, hierarchy, digest. */
const TPMT_TK_AUTH = struct("TPMT_TK_AUTH", { tag: u16, hierarchy: u32, digest: TPM2B_DIGEST });

/**
 * Part 3 §23.4 "TPM2_PolicySecret": @authHandle, policySession; nonceTPM, cpHashA, policyRef, expiration
 * (INT32, carried as its two's-complement UINT32) → timeout, policyTicket.
 */
export const TPM2_PolicySecret = command({
  name: "TPM2_PolicySecret",
  code: TPM_CC.PolicySecret,
  handles: 2,
  authHandles: 1,
  params: struct("TPM2_PolicySecret", {
    nonceTPM: TPM2B_NONCE,
    cpHashA: TPM2B_DIGEST,
    policyRef: TPM2B_NONCE,
    expiration: u32,
  }),
  responseHandles: 0,
  response: struct("TPM2_PolicySecret_Response", {
    timeout: sized(u16, { max: 8, name: "TPM2B_TIMEOUT" }),
    policyTicket: TPMT_TK_AUTH,
  }),
});
