import { wipe } from "@asterism/bytes";
import { DiskError } from "./errors.ts";
import type { DeviceMapper, Luks2 } from "./luks.ts";

/** Where the state disk is and how to reach its key. */
export interface StateDiskDeps {
  readonly luks: Luks2;
  readonly mapper: DeviceMapper;
  /** 32 random bytes: the throw-away passphrase of a freshly formatted disk. */
  readonly randomKey: () => Uint8Array;
}

/** The outcome of preparing the state disk, for logs and the bootstrapper's status. */
export interface StateDiskResult {
  readonly uuid: string;
  /** `formatted` on first boot, `existing` when the disk already had a LUKS header. */
  readonly origin: "formatted" | "existing";
  /** The mapped device path, or undefined when no device-mapper is available (reported, not hidden). */
  readonly mappedPath: string | undefined;
}

/**
 * First boot: format the state disk under a random passphrase so it is encrypted before the node knows
 * its real key, and return the LUKS UUID (which names the key in the KMS).
 * Returns the random passphrase so the caller can replace it with the ticket's key afterwards.
 */
export async function prepareStateDisk(
  deps: StateDiskDeps,
  device: string,
): Promise<{ uuid: string; bootKey: Uint8Array | undefined }> {
  if (await deps.luks.isLuks(device)) return { uuid: await deps.luks.uuid(device), bootKey: undefined };
  const bootKey = deps.randomKey();
  await deps.luks.format(device, bootKey);
  return { uuid: await deps.luks.uuid(device), bootKey };
}

/**
 * Put the ticket's disk key in place: on a fresh disk, add it and remove the random boot passphrase; on
 * an existing disk (rejoin), check that the key opens it. Then verify with `--test-passphrase` and map
 * the device where device-mapper exists. The key buffers are wiped by the caller's owner of the ticket.
 */
export async function installDiskKey(
  deps: StateDiskDeps,
  device: string,
  prepared: { uuid: string; bootKey: Uint8Array | undefined },
  diskKey: Uint8Array,
  mappingName: string,
): Promise<StateDiskResult> {
  if (prepared.bootKey) {
    await deps.luks.addKey(device, prepared.bootKey, diskKey);
    await deps.luks.removeKey(device, prepared.bootKey);
    wipe(prepared.bootKey);
  }
  if (!(await deps.luks.testKey(device, diskKey))) {
    throw new DiskError("WRONG_KEY", `The disk key does not open ${device}`, {
      expected: `the key of disk ${prepared.uuid}`,
      actual: "a key that opens no slot",
    });
  }
  let mappedPath: string | undefined;
  try {
    mappedPath = await deps.mapper.open(device, mappingName, diskKey);
  } catch (err) {
    if (!(err instanceof DiskError && err.code === "MAPPING_UNAVAILABLE")) throw err;
  }
  return { uuid: prepared.uuid, origin: prepared.bootKey ? "formatted" : "existing", mappedPath };
}
