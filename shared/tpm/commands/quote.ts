import { struct, u16, union } from "@asterism/codec";
import { TPM_ALG, TPM_CC } from "../constants.ts";
import { command } from "../execute.ts";
import { TPM2B_ATTEST } from "../structures/attest.ts";
import { NULL_ARM, TPM2B_DATA, TPML_PCR_SELECTION, TPMS_SCHEME_HASH } from "../structures/basic.ts";
import { TPMT_SIGNATURE } from "../structures/signature.ts";

/** Part 2 §11.2.1.5 TPMT_SIG_SCHEME: scheme, details[scheme] (TPMU_SIG_SCHEME). */
export const TPMT_SIG_SCHEME = struct("TPMT_SIG_SCHEME", {
  scheme: u16,
  details: union(
    "scheme",
    {
      [TPM_ALG.RSASSA]: TPMS_SCHEME_HASH,
      [TPM_ALG.RSAPSS]: TPMS_SCHEME_HASH,
      [TPM_ALG.ECDSA]: TPMS_SCHEME_HASH,
      [TPM_ALG.ECDAA]: struct("TPMS_SCHEME_ECDAA", { hashAlg: u16, count: u16 }),
      [TPM_ALG.SM2]: TPMS_SCHEME_HASH,
      [TPM_ALG.ECSCHNORR]: TPMS_SCHEME_HASH,
      [TPM_ALG.HMAC]: TPMS_SCHEME_HASH,
      ...NULL_ARM,
    },
    "TPMU_SIG_SCHEME",
  ),
});

/** TPMT_SIG_SCHEME with scheme TPM_ALG_NULL: "use the key's own scheme". */
export const SIG_SCHEME_NULL = { scheme: TPM_ALG.NULL, details: null } as const;

/**
 * Part 3 §18.4 "TPM2_Quote": @signHandle; qualifyingData, inScheme, PCRselect → quoted (TPM2B_ATTEST,
 * kept as the exact signed bytes), signature (TPMT_SIGNATURE).
 */
export const TPM2_Quote = command({
  name: "TPM2_Quote",
  code: TPM_CC.Quote,
  handles: 1,
  authHandles: 1,
  params: struct("TPM2_Quote", {
    qualifyingData: TPM2B_DATA,
    inScheme: TPMT_SIG_SCHEME,
    PCRselect: TPML_PCR_SELECTION,
  }),
  responseHandles: 0,
  response: struct("TPM2_Quote_Response", { quoted: TPM2B_ATTEST, signature: TPMT_SIGNATURE }),
});
