import { isAllZero } from "@asterism/bytes";
import {
  identityFromEventLog,
  measureNodeIdentity,
  NODE_IDENTITY_PCR,
  type NodeIdentity,
} from "@asterism/lifecycle";
import { readPcrs, TPM_ALG, type Tpm } from "@asterism/tpm";
import { BootstrapperError } from "./errors.ts";
import { readOptional, writeAtomic } from "./node-files.ts";

/** PCR 15 and 16 as the node starts. */
export async function readLifecyclePcrs(tpm: Tpm): Promise<{ pcr15: Uint8Array; pcr16: Uint8Array }> {
  const banks = await readPcrs(tpm, [{ hash: TPM_ALG.SHA256, pcrSelect: [15, NODE_IDENTITY_PCR] }]);
  const sha = banks.get(TPM_ALG.SHA256);
  return {
    pcr15: sha?.get(15) ?? new Uint8Array(32),
    pcr16: sha?.get(NODE_IDENTITY_PCR) ?? new Uint8Array(32),
  };
}

const same = (a: NodeIdentity, b: NodeIdentity) =>
  a.name === b.name &&
  a.role === b.role &&
  a.ips.length === b.ips.length &&
  a.ips.every((ip, i) => ip === b.ips[i]);

/**
 * Measure the node's identity into PCR 16 exactly once per boot (docs/lifecycle.md §1) and return the event
 * log that proves it. A bootstrapper restarted without a reboot finds PCR 16 set: it reuses the log it kept,
 * and refuses (`IDENTITY_UNPROVABLE`) when that log is missing, does not replay to PCR 16, or names another
 * identity than the metadata now does.
 */
export async function ensureIdentity(
  tpm: Tpm,
  identity: NodeIdentity,
  pcr16: Uint8Array,
  eventLogPath: string,
  firmwareLog?: Uint8Array,
): Promise<Uint8Array> {
  if (isAllZero(pcr16)) {
    const log = await measureNodeIdentity(tpm, identity, firmwareLog);
    await writeAtomic(eventLogPath, log, 0o644);
    return log;
  }
  const log = await readOptional(eventLogPath);
  if (log === undefined)
    throw new BootstrapperError("IDENTITY_UNPROVABLE", "PCR 16 is set but the identity event log is gone", {
      expected: `the log at ${eventLogPath}`,
      actual: "no file",
    });
  let proven: NodeIdentity;
  try {
    proven = identityFromEventLog(log, pcr16);
  } catch (cause) {
    throw new BootstrapperError(
      "IDENTITY_UNPROVABLE",
      "The kept identity event log does not explain PCR 16",
      { cause },
    );
  }
  if (!same(proven, identity))
    throw new BootstrapperError(
      "IDENTITY_UNPROVABLE",
      "The metadata names another identity than the one measured",
      {
        expected: `${proven.name} (${proven.role})`,
        actual: `${identity.name} (${identity.role})`,
      },
    );
  return log;
}
