/**
 * The measured boot of a local-cluster node, as a list of TCG events. A "simulated firmware" step plays
 * them into the node's swtpm (firmware.ts) and `asterism measurements precompute` replays the same list
 * in software (precompute.ts), so both always agree.
 *
 * The sequence imitates a UEFI boot of a unified kernel image, with event types and PCRs from the TCG PC
 * Client Platform Firmware Profile (PFP) rev 1.05 §3.3.4 and §10.4:
 *
 * | PCR | event type                          | data                                  | digest over      |
 * |-----|-------------------------------------|---------------------------------------|------------------|
 * | 0   | EV_S_CRTM_VERSION                   | UCS-2 version string                  | the data         |
 * | 0   | EV_EFI_PLATFORM_FIRMWARE_BLOB2      | UEFI_PLATFORM_FIRMWARE_BLOB2          | firmware         |
 * | 4   | EV_EFI_ACTION                       | "Calling EFI Application from Boot Option" | the data    |
 * | 0–7 | EV_SEPARATOR                        | 00000000                              | the data         |
 * | 4   | EV_EFI_BOOT_SERVICES_APPLICATION    | UEFI_IMAGE_LOAD_EVENT                 | kernel           |
 * | 9   | EV_IPL                              | "initrd"                              | initrd           |
 * | 12  | EV_IPL                              | the command line (UTF-8)              | the data         |
 *
 * PCRs 0–7 thus end with the separator and 4, 9, 12 depend on the kernel, initrd and command line; the
 * other PCRs up to 14 stay zero. PCR 15 (cluster ID) and 16 (node identity) are extended later by the
 * bootstrapper and are not part of the boot.
 */
import { bytesBy, encode, struct, u8, u64le } from "@asterism/codec";
import { EV, type EventInput } from "@asterism/tpm";

/** The contents of the declared boot components. */
export interface BootComponentBytes {
  readonly firmware: Uint8Array;
  readonly kernel: Uint8Array;
  readonly initrd: Uint8Array;
  readonly cmdline: Uint8Array;
}

/** PFP §10.2.5 "UEFI_PLATFORM_FIRMWARE_BLOB2": description length, description, base, length. */
const UEFI_PLATFORM_FIRMWARE_BLOB2 = struct("UEFI_PLATFORM_FIRMWARE_BLOB2", {
  blobDescriptionSize: u8,
  blobDescription: bytesBy("blobDescriptionSize", { max: 255 }),
  blobBase: u64le,
  blobLength: u64le,
});

/**
 * PFP §10.2.3 / UEFI "UEFI_IMAGE_LOAD_EVENT": where the image was loaded and its device path. The
 * simulated firmware has no memory map or device path: location and link address are 0, the device path
 * is empty.
 */
const UEFI_IMAGE_LOAD_EVENT = struct("UEFI_IMAGE_LOAD_EVENT", {
  imageLocationInMemory: u64le,
  imageLengthInMemory: u64le,
  imageLinkTimeAddress: u64le,
  /** Always 0, so the (empty) device path that would follow is omitted. */
  lengthOfDevicePath: u64le,
});

/** Where each component is measured (for messages that name a failing PCR). */
export const COMPONENT_PCRS = { firmware: 0, kernel: 4, initrd: 9, cmdline: 12 } as const;

/** What each PCR of the simulated boot holds, for summaries and verification messages. */
export const PCR_MEANINGS: Readonly<Record<number, string>> = {
  0: "firmware",
  1: "firmware configuration",
  2: "option ROMs",
  3: "option ROM configuration",
  4: "kernel (boot application)",
  5: "boot manager configuration",
  6: "platform events",
  7: "secure boot policy",
  8: "unused",
  9: "initrd",
  10: "unused",
  11: "unused",
  12: "kernel command line",
  13: "unused",
  14: "unused",
  15: "cluster ID",
  16: "node identity",
};

/** The PCRs whose values the simulated boot fully determines: 0–14. */
export const BOOT_PCRS: readonly number[] = Array.from({ length: 15 }, (_, i) => i);

const CRTM_VERSION = "Asterism simulated firmware 1.0";

function ucs2z(s: string): Uint8Array {
  const out = new Uint8Array((s.length + 1) * 2);
  for (let i = 0; i < s.length; i++) new DataView(out.buffer).setUint16(i * 2, s.charCodeAt(i), true);
  return out;
}

const ascii = (s: string) => new TextEncoder().encode(s);

/** The command line as measured: the file's text without trailing newlines. */
export function normaliseCmdline(raw: Uint8Array): Uint8Array {
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  return raw.subarray(0, end);
}

/** The boot's events, in order. Pure: the same components always give the same events. */
export function bootEvents(c: BootComponentBytes): EventInput[] {
  const description = ascii("asterism-firmware");
  const events: EventInput[] = [
    { pcrIndex: 0, eventType: EV.S_CRTM_VERSION, data: ucs2z(CRTM_VERSION) },
    {
      pcrIndex: 0,
      eventType: EV.EFI_PLATFORM_FIRMWARE_BLOB2,
      data: encode(UEFI_PLATFORM_FIRMWARE_BLOB2, {
        blobDescriptionSize: description.length,
        blobDescription: description,
        blobBase: 0xffc00000n,
        blobLength: BigInt(c.firmware.length),
      }),
      measured: c.firmware,
    },
    { pcrIndex: 4, eventType: EV.EFI_ACTION, data: ascii("Calling EFI Application from Boot Option") },
  ];
  for (let pcr = 0; pcr <= 7; pcr++)
    events.push({ pcrIndex: pcr, eventType: EV.SEPARATOR, data: new Uint8Array(4) });
  events.push(
    {
      pcrIndex: 4,
      eventType: EV.EFI_BOOT_SERVICES_APPLICATION,
      data: encode(UEFI_IMAGE_LOAD_EVENT, {
        imageLocationInMemory: 0n,
        imageLengthInMemory: BigInt(c.kernel.length),
        imageLinkTimeAddress: 0n,
        lengthOfDevicePath: 0n,
      }),
      measured: c.kernel,
    },
    { pcrIndex: 9, eventType: EV.IPL, data: ascii("initrd"), measured: c.initrd },
    { pcrIndex: 12, eventType: EV.IPL, data: normaliseCmdline(c.cmdline) },
  );
  return events;
}

/**
 * What each PCR the node image's boot is checked on measures (`mini up --vm`; image/README.md "What
 * measures what"): OVMF, the Linux EFI stub and systemd-stub, not the simulated firmware above.
 */
export const IMAGE_PCR_MEANINGS: Readonly<Record<number, string>> = {
  4: "UKI and kernel (Authenticode, OVMF)",
  5: "GPT of the boot disk, ExitBootServices",
  8: "unused (no GRUB)",
  9: "kernel command line and initrd (Linux EFI stub)",
  11: "UKI sections (systemd-stub)",
  12: "credentials (none)",
  13: "system extensions (none)",
  15: "cluster ID",
};
