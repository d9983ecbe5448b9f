import { toHex } from "@asterism/bytes";
import { gptEventData, ukiFromDiskImage } from "./disk.ts";
import { EventType, type PredictedEvent, replay, sha256 } from "./pcr.ts";
import { measureUki, PREDICTED_PCRS, type UkiMeasurements } from "./uki.ts";

/** One entry of a measurements policy (DESIGN.md "Measurements JSON"): index → {expected, warnOnly}. */
export interface MeasurementEntry {
  readonly expected: string;
  readonly warnOnly: boolean;
}

/** The result of {@link precomputeImageMeasurements}. */
export interface ImageMeasurements {
  /** Policy entries keyed by decimal PCR index, numerically sorted. */
  readonly measurements: Record<string, MeasurementEntry>;
  readonly detail: UkiMeasurements;
}

/** EV_EFI_GPT_EVENT (TCG PC Client PFP §10.4.1). */
const EV_EFI_GPT_EVENT = 0x80000006;

/**
 * PCR 5 of a node booted from `disk` by OVMF: the EV_SEPARATOR of ReadyToBoot, the boot disk's GPT,
 * then the two ExitBootServices actions (checked against the event log in tests/vm). OVMF's boot
 * configuration variables go to PCR 1, so nothing else lands here.
 */
export function pcr5Events(disk: Uint8Array): PredictedEvent[] {
  const action = (description: string): PredictedEvent => ({
    pcr: 5,
    type: EventType.EV_EFI_ACTION,
    description,
    digest: sha256(description),
  });
  return [
    { pcr: 5, type: EventType.EV_SEPARATOR, description: "separator", digest: sha256(new Uint8Array(4)) },
    {
      pcr: 5,
      type: EV_EFI_GPT_EVENT,
      description: "GPT of the boot disk",
      digest: sha256(gptEventData(disk)),
    },
    action("Exit Boot Services Invocation"),
    action("Exit Boot Services Returned with Success"),
  ];
}

const MZ = [0x4d, 0x5a];

/**
 * The expected PCR values of a node booted from `image` — either the GPT disk image (`asterism-node.raw`,
 * the UKI is read from its ESP as OVMF finds it) or the UKI itself — as a measurements policy. Every
 * predicted PCR is enforced: 4 (UKI and kernel Authenticode), 5 (GPT and ExitBootServices; disk images
 * only), 9 (command line and initrd, by the kernel), 11 (UKI sections), 8/12/13 (zero on this stack)
 * and 15 (zero: the node has not joined a cluster).
 */
export function precomputeImageMeasurements(image: Uint8Array): ImageMeasurements {
  const isUki = image[0] === MZ[0] && image[1] === MZ[1];
  const ukiOnly = measureUki(isUki ? image : ukiFromDiskImage(image));
  let detail = ukiOnly;
  const predicted: number[] = [...PREDICTED_PCRS];
  if (!isUki) {
    const events = [...pcr5Events(image), ...ukiOnly.events];
    predicted.unshift(5);
    detail = { ...ukiOnly, events, pcrs: replay(events, predicted) };
  }
  const measurements: Record<string, MeasurementEntry> = {};
  for (const pcr of [...predicted].sort((a, b) => a - b)) {
    const v = detail.pcrs.get(pcr);
    if (v !== undefined) measurements[String(pcr)] = { expected: toHex(v), warnOnly: false };
  }
  return { measurements, detail };
}
