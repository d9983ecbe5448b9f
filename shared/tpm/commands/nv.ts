import { sized, struct, u16 } from "@asterism/codec";
import { TPM_CC } from "../constants.ts";
import { TpmError } from "../errors.ts";
import { command, type Tpm } from "../execute.ts";
import { TPM2B_NAME } from "../structures/basic.ts";
import { TPM2B_NV_PUBLIC, type TPMS_NV_PUBLIC } from "../structures/nv.ts";
import { getTpmProperty, TPM_PT_NV_BUFFER_MAX } from "./capability.ts";

/** Part 3 §31.6 "TPM2_NV_ReadPublic": nvIndex → nvPublic, nvName. */
export const TPM2_NV_ReadPublic = command({
  name: "TPM2_NV_ReadPublic",
  code: TPM_CC.NV_ReadPublic,
  handles: 1,
  authHandles: 0,
  params: struct("TPM2_NV_ReadPublic", {}),
  responseHandles: 0,
  response: struct("TPM2_NV_ReadPublic_Response", { nvPublic: TPM2B_NV_PUBLIC, nvName: TPM2B_NAME }),
});

/** Part 3 §31.13 "TPM2_NV_Read": @authHandle, nvIndex; size, offset → data (TPM2B_MAX_NV_BUFFER). */
export const TPM2_NV_Read = command({
  name: "TPM2_NV_Read",
  code: TPM_CC.NV_Read,
  handles: 2,
  authHandles: 1,
  params: struct("TPM2_NV_Read", { size: u16, offset: u16 }),
  responseHandles: 0,
  response: struct("TPM2_NV_Read_Response", { data: sized(u16, { max: 2048, name: "TPM2B_MAX_NV_BUFFER" }) }),
});

/** Part 2 §6.3 / TCG EK Credential Profile 2.0 §2.2.1.5: NV index of the RSA-2048 EK certificate. */
export const EK_CERT_NV_INDEX_RSA = 0x01c00002;
/** TCG EK Credential Profile 2.0 §2.2.1.5: NV index of the ECC NIST P-256 EK certificate. */
export const EK_CERT_NV_INDEX_ECC = 0x01c0000a;
/** TCG EK Credential Profile 2.0 §2.2.1.5 (high range): ECC NIST P-384 EK certificate (swtpm_setup's ECC EK). */
export const EK_CERT_NV_INDEX_ECC_P384 = 0x01c00016;

/** Read an NV index's public area. */
export async function nvReadPublic(tpm: Tpm, index: number): Promise<TPMS_NV_PUBLIC> {
  const { response } = await tpm.run(TPM2_NV_ReadPublic, { handles: [index], params: {} });
  return response.nvPublic;
}

/** Largest NV index we read in full (EK certificates are ~1–2 KiB). */
const MAX_NV_READ = 16 * 1024;

/**
 * Read a whole NV index in TPM_PT_NV_BUFFER_MAX chunks, authorizing with the index itself (AUTHREAD,
 * empty password) unless `authHandle` says otherwise (e.g. TPM_RH_OWNER for OWNERREAD indices).
 */
export async function nvRead(tpm: Tpm, index: number, authHandle: number = index): Promise<Uint8Array> {
  const pub = await nvReadPublic(tpm, index);
  if (pub.dataSize > MAX_NV_READ)
    throw new TpmError("UNSUPPORTED", "NV index too large", {
      expected: `≤ ${MAX_NV_READ}`,
      actual: String(pub.dataSize),
    });
  const chunk = Math.max(64, Math.min(1024, (await getTpmProperty(tpm, TPM_PT_NV_BUFFER_MAX)) ?? 512));
  const out = new Uint8Array(pub.dataSize);
  for (let offset = 0; offset < pub.dataSize; offset += chunk) {
    const size = Math.min(chunk, pub.dataSize - offset);
    const { response } = await tpm.run(TPM2_NV_Read, {
      handles: [authHandle, index],
      params: { size, offset },
    });
    if (response.data.length !== size)
      throw new TpmError("RESPONSE_MALFORMED", "TPM2_NV_Read returned a short chunk", {
        expected: String(size),
        actual: String(response.data.length),
      });
    out.set(response.data, offset);
  }
  return out;
}
