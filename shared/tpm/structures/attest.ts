import { constant, type Infer, sized, sizedOf, struct, u16, u32, u64, union } from "@asterism/codec";
import { TPM_GENERATED_VALUE, TPM_ST } from "../constants.ts";
import { TPM2B_DATA, TPM2B_DIGEST, TPM2B_NAME, TPML_PCR_SELECTION, TPMS_CLOCK_INFO } from "./basic.ts";

/** Part 2 §10.12.4 TPMS_QUOTE_INFO: `pcrSelect` (TPML_PCR_SELECTION), `pcrDigest` (TPM2B_DIGEST). */
export const TPMS_QUOTE_INFO = struct("TPMS_QUOTE_INFO", {
  pcrSelect: TPML_PCR_SELECTION,
  pcrDigest: TPM2B_DIGEST,
});
export type TPMS_QUOTE_INFO = Infer<typeof TPMS_QUOTE_INFO>;

/** Part 2 §10.12.3 TPMS_CERTIFY_INFO: `name`, `qualifiedName`. */
export const TPMS_CERTIFY_INFO = struct("TPMS_CERTIFY_INFO", { name: TPM2B_NAME, qualifiedName: TPM2B_NAME });

/** Part 2 §10.12.8 TPMS_CREATION_INFO: `objectName`, `creationHash`. */
export const TPMS_CREATION_INFO = struct("TPMS_CREATION_INFO", {
  objectName: TPM2B_NAME,
  creationHash: TPM2B_DIGEST,
});

/** Part 2 §10.12.5 TPMS_COMMAND_AUDIT_INFO. */
export const TPMS_COMMAND_AUDIT_INFO = struct("TPMS_COMMAND_AUDIT_INFO", {
  auditCounter: u64,
  digestAlg: u16,
  auditDigest: TPM2B_DIGEST,
  commandDigest: TPM2B_DIGEST,
});

/** Part 2 §10.12.6 TPMS_SESSION_AUDIT_INFO. */
export const TPMS_SESSION_AUDIT_INFO = struct("TPMS_SESSION_AUDIT_INFO", {
  exclusiveSession: u16,
  sessionDigest: TPM2B_DIGEST,
});

/** Part 2 §10.11.6 TPMS_TIME_ATTEST_INFO (time = TPMS_TIME_INFO: time, clockInfo). */
export const TPMS_TIME_ATTEST_INFO = struct("TPMS_TIME_ATTEST_INFO", {
  time: struct("TPMS_TIME_INFO", { time: u64, clockInfo: TPMS_CLOCK_INFO }),
  firmwareVersion: u64,
});

/** Part 2 §10.12.9 TPMS_NV_CERTIFY_INFO: `indexName`, `offset`, `nvContents` (TPM2B_MAX_NV_BUFFER). */
export const TPMS_NV_CERTIFY_INFO = struct("TPMS_NV_CERTIFY_INFO", {
  indexName: TPM2B_NAME,
  offset: u16,
  nvContents: sized(u16, { max: 2048, name: "TPM2B_MAX_NV_BUFFER" }),
});

/**
 * Part 2 §10.12.12 "TPMS_ATTEST": table 134.
 * | magic           | TPM_GENERATED (must be TPM_GENERATED_VALUE) |
 * | type            | TPMI_ST_ATTEST |
 * | qualifiedSigner | TPM2B_NAME |
 * | extraData       | TPM2B_DATA (the caller's qualifying data, i.e. the nonce) |
 * | clockInfo       | TPMS_CLOCK_INFO |
 * | firmwareVersion | UINT64 |
 * | [type]attested  | TPMU_ATTEST |
 */
export const TPMS_ATTEST = struct("TPMS_ATTEST", {
  magic: constant(u32, TPM_GENERATED_VALUE, "TPM_GENERATED"),
  type: u16,
  qualifiedSigner: TPM2B_NAME,
  extraData: TPM2B_DATA,
  clockInfo: TPMS_CLOCK_INFO,
  firmwareVersion: u64,
  attested: union(
    "type",
    {
      [TPM_ST.ATTEST_QUOTE]: TPMS_QUOTE_INFO,
      [TPM_ST.ATTEST_CERTIFY]: TPMS_CERTIFY_INFO,
      [TPM_ST.ATTEST_CREATION]: TPMS_CREATION_INFO,
      [TPM_ST.ATTEST_COMMAND_AUDIT]: TPMS_COMMAND_AUDIT_INFO,
      [TPM_ST.ATTEST_SESSION_AUDIT]: TPMS_SESSION_AUDIT_INFO,
      [TPM_ST.ATTEST_TIME]: TPMS_TIME_ATTEST_INFO,
      [TPM_ST.ATTEST_NV]: TPMS_NV_CERTIFY_INFO,
    },
    "TPMU_ATTEST",
  ),
});
export type TPMS_ATTEST = Infer<typeof TPMS_ATTEST>;

/** Largest TPMS_ATTEST we accept (Part 2 §10.12.13 TPM2B_ATTEST: sizeof(TPMS_ATTEST)); 4 KiB is ample. */
export const MAX_ATTEST_SIZE = 4096;

/** Part 2 §10.12.13 "TPM2B_ATTEST": `size`, `attestationData`. Kept as raw bytes: they are what is signed. */
export const TPM2B_ATTEST = sized(u16, { max: MAX_ATTEST_SIZE, name: "TPM2B_ATTEST" });

/** TPM2B_ATTEST parsed in place (used for tests and round trips). */
export const TPM2B_ATTEST_PARSED = sizedOf(u16, TPMS_ATTEST, { max: MAX_ATTEST_SIZE, name: "TPM2B_ATTEST" });
