import { type Infer, struct, u16, union } from "@asterism/codec";
import { TPM_ALG } from "../constants.ts";
import { NULL_ARM, TPMT_HA } from "./basic.ts";
import { TPM2B_ECC_PARAMETER, TPM2B_PUBLIC_KEY_RSA } from "./public.ts";

/** Part 2 §11.3.1 TPMS_SIGNATURE_RSA (RSASSA and RSAPSS): `hash`, `sig` (TPM2B_PUBLIC_KEY_RSA). */
export const TPMS_SIGNATURE_RSA = struct("TPMS_SIGNATURE_RSA", { hash: u16, sig: TPM2B_PUBLIC_KEY_RSA });
export type TPMS_SIGNATURE_RSA = Infer<typeof TPMS_SIGNATURE_RSA>;

/** Part 2 §11.3.2 TPMS_SIGNATURE_ECC (ECDSA, ECDAA, SM2, ECSCHNORR): `hash`, `signatureR`, `signatureS`. */
export const TPMS_SIGNATURE_ECC = struct("TPMS_SIGNATURE_ECC", {
  hash: u16,
  signatureR: TPM2B_ECC_PARAMETER,
  signatureS: TPM2B_ECC_PARAMETER,
});
export type TPMS_SIGNATURE_ECC = Infer<typeof TPMS_SIGNATURE_ECC>;

/**
 * Part 2 §11.3.4 "TPMT_SIGNATURE": table 193.
 * | sigAlg            | +TPMI_ALG_SIG_SCHEME |
 * | [sigAlg]signature | TPMU_SIGNATURE |
 */
export const TPMT_SIGNATURE = struct("TPMT_SIGNATURE", {
  sigAlg: u16,
  signature: union(
    "sigAlg",
    {
      [TPM_ALG.RSASSA]: TPMS_SIGNATURE_RSA,
      [TPM_ALG.RSAPSS]: TPMS_SIGNATURE_RSA,
      [TPM_ALG.ECDSA]: TPMS_SIGNATURE_ECC,
      [TPM_ALG.ECDAA]: TPMS_SIGNATURE_ECC,
      [TPM_ALG.SM2]: TPMS_SIGNATURE_ECC,
      [TPM_ALG.ECSCHNORR]: TPMS_SIGNATURE_ECC,
      [TPM_ALG.HMAC]: TPMT_HA,
      ...NULL_ARM,
    },
    "TPMU_SIGNATURE",
  ),
});
export type TPMT_SIGNATURE = Infer<typeof TPMT_SIGNATURE>;
