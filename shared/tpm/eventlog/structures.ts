import {
  bytes,
  bytesBy,
  type Codec,
  type Infer,
  list,
  struct,
  u8,
  u16le,
  u32le,
  union,
} from "@asterism/codec";

/** Bound on one event's data. Firmware variables (db, dbx) are the largest real events, tens of KiB. */
export const MAX_EVENT_DATA = 1024 * 1024;

/**
 * TCG PC Client PFP rev 1.05 §10.2.1 "TCG_PCClientPCREvent" (the SHA-1 format; in crypto-agile logs only
 * the first event uses it). Little-endian, unlike TPM structures.
 * | pcrIndex | UINT32 | eventType | UINT32 | digest | BYTE[20] | eventDataSize | UINT32 | event | BYTE[eventDataSize] |
 */
export const TCG_PCClientPCREvent = struct("TCG_PCClientPCREvent", {
  pcrIndex: u32le,
  eventType: u32le,
  digest: bytes(20),
  eventDataSize: u32le,
  event: bytesBy("eventDataSize", { max: MAX_EVENT_DATA }),
});
export type TCG_PCClientPCREvent = Infer<typeof TCG_PCClientPCREvent>;

/** §10.4.5.1: TCG_EfiSpecIdEventAlgorithmSize: algorithmId (TPM_ALG_ID), digestSize. */
const TCG_EfiSpecIdEventAlgorithmSize = struct("TCG_EfiSpecIdEventAlgorithmSize", {
  algorithmId: u16le,
  digestSize: u16le,
});

/**
 * TCG PC Client PFP rev 1.05 §10.4.5.1 "TCG_EfiSpecIDEvent" (event data of the first, EV_NO_ACTION
 * event of a crypto-agile log; signature "Spec ID Event03\0").
 * | signature | BYTE[16] | platformClass | UINT32 | specVersionMinor, specVersionMajor, specErrata, uintnSize | UINT8 |
 * | numberOfAlgorithms | UINT32 | digestSizes | TCG_EfiSpecIdEventAlgorithmSize[numberOfAlgorithms] |
 * | vendorInfoSize | UINT8 | vendorInfo | BYTE[vendorInfoSize] |
 */
export const TCG_EfiSpecIDEvent = struct("TCG_EfiSpecIDEvent", {
  signature: bytes(16),
  platformClass: u32le,
  specVersionMinor: u8,
  specVersionMajor: u8,
  specErrata: u8,
  uintnSize: u8,
  digestSizes: list(u32le, TCG_EfiSpecIdEventAlgorithmSize, { max: 16, name: "digestSizes" }),
  vendorInfoSize: u8,
  vendorInfo: bytesBy("vendorInfoSize", { max: 255 }),
});
export type TCG_EfiSpecIDEvent = Infer<typeof TCG_EfiSpecIDEvent>;

/** §10.4.5.1: "Spec ID Event03\0". */
export const SPEC_ID_EVENT03 = new TextEncoder().encode("Spec ID Event03\0");
/** §10.4.5.3 TCG_EfiStartupLocalityEvent signature: "StartupLocality\0", then UINT8 StartupLocality. */
export const STARTUP_LOCALITY_SIGNATURE = new TextEncoder().encode("StartupLocality\0");

/**
 * TCG PC Client PFP rev 1.05 §10.2.2 "TCG_PCR_EVENT2" with digest sizes from the log's Spec ID event.
 * | pcrIndex | UINT32 | eventType | UINT32 | digests | TPML_DIGEST_VALUES (LE count, TPMT_HA with LE hashAlg) |
 * | eventSize | UINT32 | event | BYTE[eventSize] |
 */
export function tcgPcrEvent2(sizes: ReadonlyMap<number, number>) {
  const arms: Record<number, Codec<Uint8Array>> = {};
  for (const [alg, size] of sizes) arms[alg] = bytes(size);
  const TPMT_HA = struct("TPMT_HA", { hashAlg: u16le, digest: union("hashAlg", arms, "TPMU_HA") });
  return struct("TCG_PCR_EVENT2", {
    pcrIndex: u32le,
    eventType: u32le,
    digests: list(u32le, TPMT_HA, { max: sizes.size, name: "TPML_DIGEST_VALUES" }),
    eventSize: u32le,
    event: bytesBy("eventSize", { max: MAX_EVENT_DATA }),
  });
}
export type TCG_PCR_EVENT2 = Infer<ReturnType<typeof tcgPcrEvent2>>;
