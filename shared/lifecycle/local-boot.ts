import { createHash } from "node:crypto";
import { toHex, utf8 } from "@asterism/bytes";
import { createMeasurements, type Measurements } from "@asterism/measurements";
import {
  connectSwtpm,
  createTpm,
  EV,
  EventLogWriter,
  extendPcr,
  measureEvent,
  SWTPM_CTRL,
  startup,
  swtpmCtrl,
  TPM_ALG,
} from "@asterism/tpm";

/**
 * A local node image: what the simulated firmware measures at boot. In a VM the firmware, boot loader and
 * kernel measure the Asterism image into these PCRs; swtpm on the host has no firmware, so the launcher
 * plays that part with {@link bootLocalNode}. Same image ⇒ same PCRs ⇒ one policy for every node.
 */
export interface LocalImage {
  readonly name: string;
  /** PCR index → the SHA-256 digest extended once into it at boot. */
  readonly digests: Readonly<Record<number, Uint8Array>>;
}

/** The PCRs a QEMU Constellation image has enforced (reference §5.3): boot loader/kernel, cmdline, initrd, UKI… */
export const LOCAL_IMAGE_PCRS: readonly number[] = [4, 8, 9, 11, 12, 13];

const componentName = (name: string, pcr: number) => `asterism-local-image/${name}/pcr${pcr}`;

/** A named image whose PCR digests are SHA-256("asterism-local-image/<name>/pcr<i>"). */
export function localImage(name: string): LocalImage {
  const digests: Record<number, Uint8Array> = {};
  for (const i of LOCAL_IMAGE_PCRS)
    digests[i] = new Uint8Array(
      createHash("sha256")
        .update(utf8(componentName(name, i)))
        .digest(),
    );
  return { name, digests };
}

/**
 * The measurement policy for nodes booted from `image` and not yet part of a cluster: every image PCR
 * = SHA-256(0³² ‖ digest), PCR 15 = 0 (enforced). PCR 16 (identity) is deliberately absent.
 */
export function localImageMeasurements(image: LocalImage): Measurements {
  const entries: [number, { expected: Uint8Array }][] = Object.entries(image.digests).map(([i, d]) => [
    Number(i),
    { expected: new Uint8Array(createHash("sha256").update(new Uint8Array(32)).update(d).digest()) },
  ]);
  entries.push([15, { expected: new Uint8Array(32) }]);
  return createMeasurements(entries);
}

/**
 * "Boot" a local node on its swtpm: power-cycle the TPM (CMD_INIT resets every PCR, as a VM reset does),
 * TPM2_Startup(CLEAR), and extend the image's digests as firmware would, recording each in a TCG event log
 * (EV_IPL, SHA-256 bank) which is returned: hand it to the bootstrapper as `ASTERISM_FIRMWARE_EVENT_LOG`.
 * Run it before starting the node's bootstrapper, and again to simulate a reboot.
 */
export async function bootLocalNode(
  swtpm: { readonly host: string; readonly port: number; readonly ctrlPort: number },
  image: LocalImage,
): Promise<Uint8Array> {
  const rc = await swtpmCtrl(swtpm, SWTPM_CTRL.INIT, new Uint8Array(4));
  if (rc !== 0) throw new Error(`swtpm CMD_INIT failed: 0x${rc.toString(16)}`);
  const transport = await connectSwtpm({ ...swtpm, powerOn: false });
  try {
    const tpm = createTpm(transport);
    await startup(tpm);
    const log = new EventLogWriter([TPM_ALG.SHA256]);
    for (const [i, d] of Object.entries(image.digests)) {
      const preimage = utf8(componentName(image.name, Number(i)));
      if (new Uint8Array(createHash("sha256").update(preimage).digest()).every((b, k) => b === d[k])) {
        await measureEvent(tpm, log, { pcrIndex: Number(i), eventType: EV.IPL, data: preimage });
      } else {
        // A hand-made image whose digest has no known preimage: extend it without a log entry.
        await extendPcr(tpm, Number(i), [{ hashAlg: TPM_ALG.SHA256, digest: d }]);
      }
    }
    return log.bytes();
  } finally {
    await transport.close();
  }
}

/** Hex of the image digests, for logs and `mini` status output. */
export function describeLocalImage(image: LocalImage): Record<string, string> {
  return Object.fromEntries(Object.entries(image.digests).map(([i, d]) => [`pcr${i}`, toHex(d)]));
}
