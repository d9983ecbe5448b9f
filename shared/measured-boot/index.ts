/**
 * Measured boot of Asterism node images: parse a PE/COFF unified kernel image (UKI), compute its
 * Authenticode digest as UEFI firmware does for PCR 4, the systemd-stub section measurements of PCR 11,
 * and from those the PCR values a node booted from the image must show.
 *
 * @module
 */
export { authenticodeSha256 } from "./authenticode.ts";
export { findEsp, gptEventData, readFatFile, ukiFromDiskImage } from "./disk.ts";
export { MeasuredBootError, type MeasuredBootErrorCode } from "./errors.ts";
export { EventType, extend, type PredictedEvent, replay, sha256 } from "./pcr.ts";
export { type PeImage, type PeSection, parsePe, sectionMemory } from "./pe.ts";
export {
  type ImageMeasurements,
  type MeasurementEntry,
  pcr5Events,
  precomputeImageMeasurements,
} from "./policy.ts";
export { measureUki, PREDICTED_PCRS, STUB_MEASURED_SECTIONS, type UkiMeasurements } from "./uki.ts";
