import {
  at,
  bytes,
  CodecError,
  decode,
  decodePrefix,
  layout,
  struct,
  u16le,
  u32le,
  u64le,
} from "@asterism/codec";
import { MeasuredBootError } from "./errors.ts";

// Microsoft PE/COFF specification rev. 12.0, §2 "Overview" and §3 "Section Table".

/** §2 MS-DOS stub: only `e_magic` ("MZ") and `e_lfanew` (offset 0x3c) matter to a loader. */
const IMAGE_DOS_HEADER_PREFIX = layout("IMAGE_DOS_HEADER", 0x40, {
  e_magic: at(0x00, u16le),
  e_unused: at(0x02, bytes(0x3a)),
  e_lfanew: at(0x3c, u32le),
});

/** §3.3 COFF File Header, preceded by the "PE\0\0" signature (§3.2). */
const IMAGE_FILE_HEADER = struct("IMAGE_FILE_HEADER", {
  signature: u32le,
  machine: u16le,
  numberOfSections: u16le,
  timeDateStamp: u32le,
  pointerToSymbolTable: u32le,
  numberOfSymbols: u32le,
  sizeOfOptionalHeader: u16le,
  characteristics: u16le,
});

/** §3.4.1/§3.4.2 Optional header (PE32+ only: UEFI x64 and AArch64 images), up to NumberOfRvaAndSizes. */
const IMAGE_OPTIONAL_HEADER64 = layout("IMAGE_OPTIONAL_HEADER64", 112, {
  magic: at(0, u16le),
  linkerAndSizes: at(2, bytes(18)),
  baseOfCode: at(20, u32le),
  imageBase: at(24, u64le),
  sectionAlignment: at(32, u32le),
  fileAlignment: at(36, u32le),
  versions: at(40, bytes(12)),
  win32VersionValue: at(52, u32le),
  sizeOfImage: at(56, u32le),
  sizeOfHeaders: at(60, u32le),
  checkSum: at(64, u32le),
  subsystemAndRest: at(68, bytes(40)),
  numberOfRvaAndSizes: at(108, u32le),
});

/** §3.4.3 one data directory entry. */
const IMAGE_DATA_DIRECTORY = struct("IMAGE_DATA_DIRECTORY", { virtualAddress: u32le, size: u32le });

/** §3.5 Section Table entry (40 bytes). */
const IMAGE_SECTION_HEADER = struct("IMAGE_SECTION_HEADER", {
  name: bytes(8),
  virtualSize: u32le,
  virtualAddress: u32le,
  sizeOfRawData: u32le,
  pointerToRawData: u32le,
  pointerToRelocations: u32le,
  pointerToLinenumbers: u32le,
  numberOfRelocations: u16le,
  numberOfLinenumbers: u16le,
  characteristics: u32le,
});

const MZ = 0x5a4d;
const PE_SIGNATURE = 0x00004550;
const PE32_PLUS = 0x20b;
/** §3.4.3: index of the Certificate Table (attribute certificates, file offset not RVA). */
const CERTIFICATE_TABLE = 4;
const MAX_SECTIONS = 96;
const MAX_ZERO_FILL = 16 * 1024 * 1024;

/** One section of a PE image. */
export interface PeSection {
  /** Name with NUL padding removed (objcopy writes short names inline). */
  readonly name: string;
  readonly virtualAddress: number;
  readonly virtualSize: number;
  readonly pointerToRawData: number;
  readonly sizeOfRawData: number;
}

/** What Authenticode hashing and section measurement need from a PE/COFF image. */
export interface PeImage {
  readonly imageBase: bigint;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
  readonly sizeOfHeaders: number;
  /** File offset of the optional header's CheckSum field (4 bytes, excluded from the hash). */
  readonly checkSumOffset: number;
  /** File offset of the Certificate Table data directory entry (8 bytes, excluded), if present. */
  readonly certDirEntryOffset: number | undefined;
  /** File range of the attribute certificate table, if the image is signed. */
  readonly certTable: { readonly offset: number; readonly size: number } | undefined;
  readonly sections: readonly PeSection[];
}

function malformed(action: string, expected: string, actual: string, cause?: unknown): never {
  throw new MeasuredBootError("MALFORMED_PE", action, { expected, actual, cause });
}

function sub(b: Uint8Array, offset: number, length: number, what: string): Uint8Array {
  if (offset < 0 || length < 0 || offset + length > b.length)
    malformed(`Cannot read ${what}`, `a range inside ${b.length} bytes`, `[${offset}, ${offset + length})`);
  return b.subarray(offset, offset + length);
}

/**
 * Parse the headers of a PE32+ image (PE/COFF spec §2–§3). Throws {@link MeasuredBootError}
 * `MALFORMED_PE` for anything a firmware loader would reject or this module cannot hash unambiguously.
 */
export function parsePe(file: Uint8Array): PeImage {
  try {
    const dos = decode(IMAGE_DOS_HEADER_PREFIX, sub(file, 0, 0x40, "IMAGE_DOS_HEADER"));
    if (dos.e_magic !== MZ)
      malformed("Cannot parse PE image", "MZ magic 0x5a4d", `0x${dos.e_magic.toString(16)}`);
    const fh = decodePrefix(IMAGE_FILE_HEADER, sub(file, dos.e_lfanew, 24, "IMAGE_FILE_HEADER")).value;
    if (fh.signature !== PE_SIGNATURE)
      malformed("Cannot parse PE image", "PE\\0\\0 signature", `0x${fh.signature.toString(16)}`);
    if (fh.numberOfSections === 0 || fh.numberOfSections > MAX_SECTIONS)
      malformed("Cannot parse PE image", `1..${MAX_SECTIONS} sections`, String(fh.numberOfSections));
    const optOffset = dos.e_lfanew + 24;
    const opt = decode(IMAGE_OPTIONAL_HEADER64, sub(file, optOffset, 112, "IMAGE_OPTIONAL_HEADER64"));
    if (opt.magic !== PE32_PLUS)
      malformed("Cannot parse PE optional header", "PE32+ magic 0x20b", `0x${opt.magic.toString(16)}`);
    const dirCount = opt.numberOfRvaAndSizes;
    if (112 + dirCount * 8 > fh.sizeOfOptionalHeader || dirCount > 16)
      malformed(
        "Cannot parse PE data directories",
        "at most 16 inside the optional header",
        String(dirCount),
      );
    const dirOffset = optOffset + 112;
    let certDirEntryOffset: number | undefined;
    let certTable: PeImage["certTable"];
    if (dirCount > CERTIFICATE_TABLE) {
      certDirEntryOffset = dirOffset + CERTIFICATE_TABLE * 8;
      const dir = decode(IMAGE_DATA_DIRECTORY, sub(file, certDirEntryOffset, 8, "Certificate Table entry"));
      if (dir.size !== 0) {
        sub(file, dir.virtualAddress, dir.size, "attribute certificate table");
        certTable = { offset: dir.virtualAddress, size: dir.size };
      }
    }
    const secOffset = optOffset + fh.sizeOfOptionalHeader;
    const sections: PeSection[] = [];
    for (let i = 0; i < fh.numberOfSections; i++) {
      const s = decode(IMAGE_SECTION_HEADER, sub(file, secOffset + i * 40, 40, `section header ${i}`));
      const nul = s.name.indexOf(0);
      const name = new TextDecoder().decode(nul < 0 ? s.name : s.name.subarray(0, nul));
      if (s.sizeOfRawData > 0) sub(file, s.pointerToRawData, s.sizeOfRawData, `section ${name}`);
      // Zero-fill beyond the raw data is for .bss-like sections; a huge VirtualSize would only make
      // sectionMemory allocate gigabytes for an attacker.
      if (s.virtualSize > s.sizeOfRawData + MAX_ZERO_FILL)
        malformed(
          `Cannot parse section ${name}`,
          `VirtualSize ≤ SizeOfRawData + ${MAX_ZERO_FILL}`,
          String(s.virtualSize),
        );
      sections.push({
        name,
        virtualAddress: s.virtualAddress,
        virtualSize: s.virtualSize,
        pointerToRawData: s.pointerToRawData,
        sizeOfRawData: s.sizeOfRawData,
      });
    }
    if (opt.sizeOfHeaders < secOffset + fh.numberOfSections * 40 || opt.sizeOfHeaders > file.length)
      malformed(
        "Cannot parse PE image",
        "SizeOfHeaders covering the section table",
        String(opt.sizeOfHeaders),
      );
    return {
      imageBase: opt.imageBase,
      sectionAlignment: opt.sectionAlignment,
      fileAlignment: opt.fileAlignment,
      sizeOfHeaders: opt.sizeOfHeaders,
      checkSumOffset: optOffset + 64,
      certDirEntryOffset,
      certTable,
      sections,
    };
  } catch (err) {
    if (err instanceof CodecError) malformed("Cannot parse PE image", "well-formed headers", err.code, err);
    throw err;
  }
}

/**
 * The bytes a PE loader places in memory for `section`: `VirtualSize` bytes, from the raw data and
 * zero-filled beyond `SizeOfRawData` (PE/COFF §3.5). systemd-stub measures exactly this range.
 */
export function sectionMemory(file: Uint8Array, section: PeSection): Uint8Array {
  const out = new Uint8Array(section.virtualSize);
  const n = Math.min(section.virtualSize, section.sizeOfRawData);
  out.set(sub(file, section.pointerToRawData, n, `section ${section.name}`));
  return out;
}
