import { authenticodeSha256 } from "./authenticode.ts";
import { MeasuredBootError } from "./errors.ts";
import { EventType, type PredictedEvent, replay, sha256 } from "./pcr.ts";
import { type PeImage, parsePe, sectionMemory } from "./pe.ts";

/**
 * UKI sections systemd-stub v252 measures into PCR 11, in the order it measures them (systemd
 * `src/boot/efi/stub.c`, `unified_sections[]`; `.pcrsig` is never measured, `.uname`/`.sbat` arrive in
 * later stub versions). Each present, non-empty section is two EV_IPL events: the section name with its
 * NUL terminator, then the section's bytes as loaded (VirtualSize).
 */
export const STUB_MEASURED_SECTIONS = [
  ".linux",
  ".osrel",
  ".cmdline",
  ".initrd",
  ".splash",
  ".dtb",
  ".pcrpkey",
];

/** What a node booted from a UKI by OVMF must show, event by event. */
export interface UkiMeasurements {
  readonly authenticode: Uint8Array;
  readonly events: readonly PredictedEvent[];
  /** Final SHA-256 PCR values of the predicted PCRs. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  readonly cmdline: string;
}

/** PCRs whose value is fully determined by the image on the OVMF + systemd-stub + Linux stack. */
export const PREDICTED_PCRS = [4, 8, 9, 11, 12, 13, 15] as const;

const CALLING_EFI_APPLICATION = "Calling EFI Application from Boot Option";
/** The EV_SEPARATOR event data OVMF uses: a UINT32 0 (TCG PC Client PFP §10.4.4 "0x00000000"). */
const SEPARATOR = new Uint8Array(4);

function section(file: Uint8Array, pe: PeImage, name: string): Uint8Array | undefined {
  const found = pe.sections.filter((s) => s.name === name);
  if (found.length > 1)
    throw new MeasuredBootError("NOT_A_UKI", "Cannot measure UKI", {
      expected: `at most one ${name} section`,
      actual: String(found.length),
    });
  return found[0] === undefined ? undefined : sectionMemory(file, found[0]);
}

/**
 * Predict the measurements of booting `uki` as the first boot option of OVMF (no Secure Boot, no other
 * boot option tried first) with systemd-stub v252 and the Linux EFI stub of Debian's 6.1 kernel. Every
 * rule below was checked against the TCG event log of a booted node (tests/vm):
 *
 * - PCR 4 (firmware, EV_EFI_*): "Calling EFI Application from Boot Option", EV_SEPARATOR, the UKI's
 *   Authenticode digest, then the kernel's: systemd-stub v252 starts `.linux` through LoadImage, so
 *   the firmware measures the kernel PE a second time.
 * - PCR 11 (systemd-stub, EV_IPL): the UKI sections, as {@link STUB_MEASURED_SECTIONS} says; the event
 *   data is the name in UTF-16 but the digest covers the ASCII name with its NUL.
 * - PCR 9 (Linux EFI stub, EV_EVENT_TAG): the load options it received (the `.cmdline` section as
 *   UTF-16LE with a NUL, tag "LOADED_IMAGE::LoadOptions"), then the initrd it loaded through the
 *   LoadFile2 initrd protocol (the `.initrd` section, tag "Linux initrd").
 * - PCR 8, 12, 13, 15: zero (no GRUB; no stub credentials, sysexts or command-line override; PCR 15
 *   is extended only when the node joins a cluster).
 */
export function measureUki(uki: Uint8Array): UkiMeasurements {
  const pe = parsePe(uki);
  const linux = section(uki, pe, ".linux");
  const cmdlineBytes = section(uki, pe, ".cmdline");
  if (linux === undefined || cmdlineBytes === undefined)
    throw new MeasuredBootError("NOT_A_UKI", "Cannot measure UKI", {
      expected: ".linux and .cmdline sections",
      actual: pe.sections.map((s) => s.name).join(","),
    });
  // systemd-stub widens the command line byte by byte to UTF-16; only printable ASCII makes that a
  // faithful prediction (and a kernel command line needs nothing else).
  if (!cmdlineBytes.every((b) => b >= 0x20 && b < 0x7f))
    throw new MeasuredBootError("NOT_A_UKI", "Cannot measure UKI", {
      expected: "a printable ASCII .cmdline section",
      actual: "other bytes",
    });
  const authenticode = authenticodeSha256(uki, pe);
  const events: PredictedEvent[] = [
    {
      pcr: 4,
      type: EventType.EV_EFI_ACTION,
      description: CALLING_EFI_APPLICATION,
      digest: sha256(CALLING_EFI_APPLICATION),
    },
    { pcr: 4, type: EventType.EV_SEPARATOR, description: "separator", digest: sha256(SEPARATOR) },
    {
      pcr: 4,
      type: EventType.EV_EFI_BOOT_SERVICES_APPLICATION,
      description: "UKI (Authenticode)",
      digest: authenticode,
    },
    {
      pcr: 4,
      type: EventType.EV_EFI_BOOT_SERVICES_APPLICATION,
      description: ".linux kernel (Authenticode)",
      digest: authenticodeSha256(linux),
    },
  ];
  for (const name of STUB_MEASURED_SECTIONS) {
    const data = section(uki, pe, name);
    if (data === undefined || data.length === 0) continue;
    events.push({
      pcr: 11,
      type: EventType.EV_IPL,
      description: `${name} name`,
      digest: sha256(`${name}\0`),
    });
    events.push({ pcr: 11, type: EventType.EV_IPL, description: `${name} section`, digest: sha256(data) });
  }
  const cmdline = new TextDecoder().decode(cmdlineBytes);
  events.push({
    pcr: 9,
    type: EventType.EV_EVENT_TAG,
    description: "LOADED_IMAGE::LoadOptions (.cmdline)",
    digest: sha256(utf16z(cmdline)),
  });
  const initrd = section(uki, pe, ".initrd");
  if (initrd !== undefined && initrd.length > 0)
    events.push({
      pcr: 9,
      type: EventType.EV_EVENT_TAG,
      description: "Linux initrd",
      digest: sha256(initrd),
    });
  return { authenticode, events, pcrs: replay(events, PREDICTED_PCRS), cmdline };
}

/** UTF-16LE with a terminating NUL, for ASCII input. */
function utf16z(s: string): Uint8Array {
  const out = new Uint8Array((s.length + 1) * 2);
  for (let i = 0; i < s.length; i++) out[i * 2] = s.charCodeAt(i);
  return out;
}
