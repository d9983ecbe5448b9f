/**
 * The "simulated firmware" of a local-cluster node: after the node's swtpm is powered on, it measures
 * the node's boot components into the PCRs and records each measurement in a crypto-agile TCG event log
 * (the TPM module's EventLogWriter), exactly as UEFI firmware would before handing over to the OS. The
 * bootstrapper then finds the log at the path it is given and attaches it to its attestation documents.
 *
 * It must run before anything else uses the TPM, and nothing may power-cycle the TPM afterwards
 * (TPM2_Startup(CLEAR) after CMD_INIT resets every PCR): the bootstrapper connects without powering on.
 */
import { EventLogWriter, measureEvent, TPM_ALG, type Tpm } from "@asterism/tpm";
import { type BootComponentBytes, bootEvents } from "./events.ts";

/** Measure the boot into `tpm` (already started) and return the event log. */
export async function runSimulatedFirmware(tpm: Tpm, components: BootComponentBytes): Promise<Uint8Array> {
  const log = new EventLogWriter([TPM_ALG.SHA256]);
  for (const e of bootEvents(components)) await measureEvent(tpm, log, e);
  return log.bytes();
}
