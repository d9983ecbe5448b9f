import { type Infer, list, struct, u8, u16, u32, union } from "@asterism/codec";
import { TPM_CAP, TPM_CC } from "../constants.ts";
import { command, type Tpm } from "../execute.ts";
import { TPML_PCR_SELECTION } from "../structures/basic.ts";

/** Bound on capability list lengths (Part 2 MAX_CAP_*: at most MAX_CAP_DATA / item size ≈ 127). */
const MAX_CAP_ITEMS = 256;

/**
 * Part 2 §10.10.2 "TPMS_CAPABILITY_DATA": `capability`, `[capability]data` (TPMU_CAPABILITIES, §10.10.1).
 */
export const TPMS_CAPABILITY_DATA = struct("TPMS_CAPABILITY_DATA", {
  capability: u32,
  data: union(
    "capability",
    {
      [TPM_CAP.ALGS]: list(u32, struct("TPMS_ALG_PROPERTY", { alg: u16, algProperties: u32 }), {
        max: MAX_CAP_ITEMS,
        name: "TPML_ALG_PROPERTY",
      }),
      [TPM_CAP.HANDLES]: list(u32, u32, { max: MAX_CAP_ITEMS, name: "TPML_HANDLE" }),
      [TPM_CAP.COMMANDS]: list(u32, u32, { max: MAX_CAP_ITEMS, name: "TPML_CCA" }),
      [TPM_CAP.PCRS]: TPML_PCR_SELECTION,
      [TPM_CAP.TPM_PROPERTIES]: list(u32, struct("TPMS_TAGGED_PROPERTY", { property: u32, value: u32 }), {
        max: MAX_CAP_ITEMS,
        name: "TPML_TAGGED_TPM_PROPERTY",
      }),
      [TPM_CAP.ECC_CURVES]: list(u32, u16, { max: MAX_CAP_ITEMS, name: "TPML_ECC_CURVE" }),
    },
    "TPMU_CAPABILITIES",
  ),
});
export type TPMS_CAPABILITY_DATA = Infer<typeof TPMS_CAPABILITY_DATA>;

/** Part 3 §30.2 "TPM2_GetCapability": capability, property, propertyCount → moreData, capabilityData. */
export const TPM2_GetCapability = command({
  name: "TPM2_GetCapability",
  code: TPM_CC.GetCapability,
  handles: 0,
  authHandles: 0,
  params: struct("TPM2_GetCapability", { capability: u32, property: u32, propertyCount: u32 }),
  responseHandles: 0,
  response: struct("TPM2_GetCapability_Response", { moreData: u8, capabilityData: TPMS_CAPABILITY_DATA }),
});

/** One GetCapability call. */
export async function getCapability(
  tpm: Tpm,
  capability: number,
  property: number,
  propertyCount: number,
): Promise<{ moreData: boolean; data: TPMS_CAPABILITY_DATA }> {
  const { response } = await tpm.run(TPM2_GetCapability, { params: { capability, property, propertyCount } });
  return { moreData: response.moreData === 1, data: response.capabilityData };
}

/** Part 2 §6.13 TPM_PT: PT_FIXED + 44 = TPM_PT_NV_BUFFER_MAX. */
export const TPM_PT_NV_BUFFER_MAX = 0x100 + 44;

/** Read one TPM_PT property, or undefined when the TPM does not report it. */
export async function getTpmProperty(tpm: Tpm, property: number): Promise<number | undefined> {
  const { data } = await getCapability(tpm, TPM_CAP.TPM_PROPERTIES, property, 1);
  const props = data.data as { property: number; value: number }[];
  return props.find((p) => p.property === property)?.value;
}
