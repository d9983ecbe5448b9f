import type { PeImage } from "./pe.ts";
import { parsePe } from "./pe.ts";

/**
 * The Authenticode digest of a PE/COFF image ("Windows Authenticode Portable Executable Signature
 * Format" v1.0, "Calculating the PE Image Hash"), which UEFI firmware measures into PCR 4 as the digest of
 * an EV_EFI_BOOT_SERVICES_APPLICATION event (TCG PC Client PFP §10.4.4, EDK2 `Tcg2MeasurePeImage`):
 *
 * 1. the headers up to the CheckSum field, skipping CheckSum;
 * 2. up to the Certificate Table directory entry, skipping it;
 * 3. the rest of the headers up to SizeOfHeaders;
 * 4. every section's raw data, in ascending PointerToRawData order;
 * 5. whatever follows the sections, except the attribute certificate table.
 */
export function authenticodeSha256(file: Uint8Array, pe: PeImage = parsePe(file)): Uint8Array {
  const h = new Bun.CryptoHasher("sha256");
  h.update(file.subarray(0, pe.checkSumOffset));
  if (pe.certDirEntryOffset === undefined) {
    h.update(file.subarray(pe.checkSumOffset + 4, pe.sizeOfHeaders));
  } else {
    h.update(file.subarray(pe.checkSumOffset + 4, pe.certDirEntryOffset));
    h.update(file.subarray(pe.certDirEntryOffset + 8, pe.sizeOfHeaders));
  }
  let hashed = pe.sizeOfHeaders;
  const sorted = [...pe.sections].filter((s) => s.sizeOfRawData > 0);
  sorted.sort((a, b) => a.pointerToRawData - b.pointerToRawData);
  for (const s of sorted) {
    h.update(file.subarray(s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData));
    hashed += s.sizeOfRawData;
  }
  const certSize = pe.certTable?.size ?? 0;
  if (file.length > hashed + certSize) h.update(file.subarray(hashed, file.length - certSize));
  return new Uint8Array(h.digest());
}
