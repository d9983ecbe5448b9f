/**
 * Expected measurements of the local cluster's simulated boot, computed without a TPM: the boot's
 * events are written into a crypto-agile event log exactly as the simulated firmware writes it, parsed
 * back and replayed with the same code that verifies a node's log. A PCR without events stays zero.
 */
import { createMeasurements, type Measurements } from "@asterism/measurements";
import { EventLogWriter, parseEventLog, replayEventLog, TPM_ALG } from "@asterism/tpm";
import { BOOT_PCRS, type BootComponentBytes, bootEvents } from "./events.ts";

/** The event log the simulated firmware writes for these components (SHA-256 bank). */
export function bootEventLog(c: BootComponentBytes): Uint8Array {
  const log = new EventLogWriter([TPM_ALG.SHA256]);
  for (const e of bootEvents(c)) log.append(e);
  return log.bytes();
}

/** PCR index → value (SHA-256 bank) after the simulated boot, for PCRs 0–14. */
export function precomputeBootPcrs(c: BootComponentBytes): Map<number, Uint8Array> {
  const replay = replayEventLog(parseEventLog(bootEventLog(c)), { banks: [TPM_ALG.SHA256] });
  const bank = replay.get(TPM_ALG.SHA256);
  const out = new Map<number, Uint8Array>();
  for (const pcr of BOOT_PCRS) out.set(pcr, bank?.get(pcr)?.value ?? new Uint8Array(32));
  return out;
}

/** The enforced measurements policy for PCRs 0–14 of the simulated boot. */
export function precomputeBootMeasurements(c: BootComponentBytes): Measurements {
  return createMeasurements([...precomputeBootPcrs(c)].map(([i, value]) => [i, { expected: value }]));
}
