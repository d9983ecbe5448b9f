import { empty, struct, u16 } from "@asterism/codec";
import { TPM_CC, TPM_SU } from "../constants.ts";
import { TpmError } from "../errors.ts";
import { command, type Tpm } from "../execute.ts";
import { isTpmRc, TPM_RC } from "../rc.ts";

/** Part 3 §9.3 "TPM2_Startup": `startupType` (TPM_SU); no response parameters. */
export const TPM2_Startup = command({
  name: "TPM2_Startup",
  code: TPM_CC.Startup,
  handles: 0,
  authHandles: 0,
  params: struct("TPM2_Startup", { startupType: u16 }),
  responseHandles: 0,
  response: empty,
});

/**
 * Send TPM2_Startup. TPM_RC_INITIALIZE ("already started") counts as success, so a second client or a
 * restarted process can call this safely.
 */
export async function startup(tpm: Tpm, startupType: number = TPM_SU.CLEAR): Promise<void> {
  try {
    await tpm.run(TPM2_Startup, { params: { startupType } });
  } catch (err) {
    if (err instanceof TpmError && isTpmRc(err, TPM_RC.INITIALIZE)) return;
    throw err;
  }
}
