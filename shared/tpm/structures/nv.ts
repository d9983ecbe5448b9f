import { type Infer, sizedOf, struct, u16, u32 } from "@asterism/codec";
import { TPM2B_DIGEST } from "./basic.ts";

/**
 * Part 2 §13.5 "TPMS_NV_PUBLIC": table 235.
 * | nvIndex | TPMI_RH_NV_INDEX | nameAlg | TPMI_ALG_HASH | attributes | TPMA_NV | authPolicy | TPM2B_DIGEST |
 * | dataSize | UINT16 |
 * TPMA_NV (§13.4) is kept as the raw UINT32: this module only reads indices and does not interpret it.
 */
export const TPMS_NV_PUBLIC = struct("TPMS_NV_PUBLIC", {
  nvIndex: u32,
  nameAlg: u16,
  attributes: u32,
  authPolicy: TPM2B_DIGEST,
  dataSize: u16,
});
export type TPMS_NV_PUBLIC = Infer<typeof TPMS_NV_PUBLIC>;

/** Part 2 §13.6 "TPM2B_NV_PUBLIC". */
export const TPM2B_NV_PUBLIC = sizedOf(u16, TPMS_NV_PUBLIC, { max: 256, name: "TPM2B_NV_PUBLIC" });
