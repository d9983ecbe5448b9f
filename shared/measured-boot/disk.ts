import { at, bytes, CodecError, decode, layout, u8, u16le, u32le, u64le } from "@asterism/codec";
import { MeasuredBootError } from "./errors.ts";

// Reads the UKI out of a node disk image the way OVMF finds it: the GPT (UEFI 2.10 §5.3), the EFI
// system partition, and the removable-media boot path \EFI\BOOT\BOOTX64.EFI (UEFI 2.10 §3.5.1.1) on
// its FAT file system (Microsoft FAT specification 1.03). Read-only, bounded, no mounting.

const SECTOR = 512;
const ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";
const MAX_ENTRIES = 128;
const MAX_CLUSTERS_IN_CHAIN = 1 << 20;

/** UEFI 2.10 §5.3.2 Table 5.21 GPT Header (first 92 bytes). */
const GPT_HEADER = layout("GPT_HEADER", 92, {
  signature: at(0, bytes(8)),
  revision: at(8, u32le),
  headerSize: at(12, u32le),
  headerCrc32: at(16, u32le),
  reserved: at(20, u32le),
  myLba: at(24, u64le),
  alternateLba: at(32, u64le),
  firstUsableLba: at(40, u64le),
  lastUsableLba: at(48, u64le),
  diskGuid: at(56, bytes(16)),
  partitionEntryLba: at(72, u64le),
  numberOfPartitionEntries: at(80, u32le),
  sizeOfPartitionEntry: at(84, u32le),
  partitionEntryArrayCrc32: at(88, u32le),
});

/** UEFI 2.10 §5.3.3 Table 5.22 GPT Partition Entry. */
const GPT_PARTITION_ENTRY = layout("GPT_PARTITION_ENTRY", 128, {
  partitionTypeGuid: at(0, bytes(16)),
  uniquePartitionGuid: at(16, bytes(16)),
  startingLba: at(32, u64le),
  endingLba: at(40, u64le),
  attributes: at(48, u64le),
  partitionName: at(56, bytes(72)),
});

/** FAT specification §3.1–§3.3: the BPB fields this reader needs (FAT32 extension included). */
const FAT_BPB = layout("FAT_BPB", 48, {
  jmpAndOem: at(0, bytes(11)),
  bytsPerSec: at(11, u16le),
  secPerClus: at(13, u8),
  rsvdSecCnt: at(14, u16le),
  numFats: at(16, u8),
  rootEntCnt: at(17, u16le),
  totSec16: at(19, u16le),
  media: at(21, u8),
  fatSz16: at(22, u16le),
  geometry: at(24, bytes(8)),
  totSec32: at(32, u32le),
  fatSz32: at(36, u32le),
  extFlagsAndVersion: at(40, bytes(4)),
  rootClus: at(44, u32le),
});

function bad(action: string, expected: string, actual: string, cause?: unknown): never {
  throw new MeasuredBootError("MALFORMED_DISK_IMAGE", action, { expected, actual, cause });
}

function slice(b: Uint8Array, offset: number, length: number, what: string): Uint8Array {
  if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > b.length)
    bad(`Cannot read ${what}`, `a range inside ${b.length} bytes`, `[${offset}, ${offset + length})`);
  return b.subarray(offset, offset + length);
}

/** A GUID in its mixed-endian on-disk form, as the lower-case string. */
function guidString(b: Uint8Array): string {
  const h = (i: number[]) => i.map((x) => b[x]!.toString(16).padStart(2, "0")).join("");
  return `${h([3, 2, 1, 0])}-${h([5, 4])}-${h([7, 6])}-${h([8, 9])}-${h([10, 11, 12, 13, 14, 15])}`;
}

/**
 * The UEFI_GPT_DATA structure firmware measures as EV_EFI_GPT_EVENT into PCR 5 (TCG PC Client PFP
 * §10.4.4 / EDK2 `Tcg2MeasureGptTable`): the 92-byte primary GPT header, a UINT64 count of used
 * partition entries, then those entries (non-zero type GUID) in table order.
 */
export function gptEventData(disk: Uint8Array): Uint8Array {
  const { header, table, count, entrySize } = readGpt(disk);
  const used: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const e = table.subarray(i * entrySize, (i + 1) * entrySize);
    if (!e.subarray(0, 16).every((b) => b === 0)) used.push(e);
  }
  const out = new Uint8Array(92 + 8 + used.length * entrySize);
  out.set(header.subarray(0, 92));
  new DataView(out.buffer).setBigUint64(92, BigInt(used.length), true);
  for (const [i, e] of used.entries()) out.set(e, 100 + i * entrySize);
  return out;
}

function readGpt(disk: Uint8Array) {
  try {
    const hdr = decode(GPT_HEADER, slice(disk, SECTOR, 92, "GPT header"));
    if (new TextDecoder().decode(hdr.signature) !== "EFI PART")
      bad("Cannot read GPT", "signature EFI PART", "something else");
    if (hdr.headerSize < 92 || hdr.headerSize > SECTOR)
      bad("Cannot read GPT", "header size 92..512", String(hdr.headerSize));
    const hdrBytes = new Uint8Array(slice(disk, SECTOR, hdr.headerSize, "GPT header"));
    hdrBytes.fill(0, 16, 20);
    if (Bun.hash.crc32(hdrBytes) !== hdr.headerCrc32)
      bad("Cannot read GPT", "a valid header CRC32", `0x${hdr.headerCrc32.toString(16)}`);
    if (hdr.sizeOfPartitionEntry !== 128 || hdr.numberOfPartitionEntries > MAX_ENTRIES)
      bad(
        "Cannot read GPT",
        `≤ ${MAX_ENTRIES} entries of 128 bytes`,
        `${hdr.numberOfPartitionEntries} × ${hdr.sizeOfPartitionEntry}`,
      );
    const table = slice(
      disk,
      Number(hdr.partitionEntryLba) * SECTOR,
      hdr.numberOfPartitionEntries * 128,
      "GPT entries",
    );
    if (Bun.hash.crc32(table) !== hdr.partitionEntryArrayCrc32)
      bad(
        "Cannot read GPT",
        "a valid partition array CRC32",
        `0x${hdr.partitionEntryArrayCrc32.toString(16)}`,
      );
    return {
      header: slice(disk, SECTOR, 92, "GPT header"),
      table,
      count: hdr.numberOfPartitionEntries,
      entrySize: hdr.sizeOfPartitionEntry,
    };
  } catch (err) {
    if (err instanceof CodecError) bad("Cannot read GPT", "well-formed structures", err.code, err);
    throw err;
  }
}

/** The EFI system partition of a GPT disk image, as a view into `disk`. */
export function findEsp(disk: Uint8Array): Uint8Array {
  const { table, count } = readGpt(disk);
  try {
    const esps: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const e = decode(GPT_PARTITION_ENTRY, table.subarray(i * 128, i * 128 + 128));
      if (guidString(e.partitionTypeGuid) !== ESP_TYPE) continue;
      if (e.endingLba < e.startingLba) bad("Cannot read GPT", "ending LBA ≥ starting LBA", "reversed");
      const start = Number(e.startingLba) * SECTOR;
      esps.push(slice(disk, start, (Number(e.endingLba) - Number(e.startingLba) + 1) * SECTOR, "ESP"));
    }
    if (esps.length !== 1) bad("Cannot find the EFI system partition", "exactly one", String(esps.length));
    return esps[0]!;
  } catch (err) {
    if (err instanceof CodecError) bad("Cannot read GPT", "well-formed structures", err.code, err);
    throw err;
  }
}

/** Read a file by 8.3 path components (e.g. ["EFI", "BOOT", "BOOTX64.EFI"]) from a FAT12/16/32 volume. */
export function readFatFile(vol: Uint8Array, path: readonly string[]): Uint8Array {
  const bpb = readBpb(vol);
  const bps = bpb.bytsPerSec;
  if (
    ![512, 1024, 2048, 4096].includes(bps) ||
    bpb.secPerClus === 0 ||
    (bpb.secPerClus & (bpb.secPerClus - 1)) !== 0
  )
    bad("Cannot read FAT", "valid sector and cluster sizes", `${bps}/${bpb.secPerClus}`);
  const fatSz = bpb.fatSz16 || bpb.fatSz32;
  const totSec = bpb.totSec16 || bpb.totSec32;
  const rootDirSectors = Math.ceil((bpb.rootEntCnt * 32) / bps);
  const firstDataSector = bpb.rsvdSecCnt + bpb.numFats * fatSz + rootDirSectors;
  if (totSec <= firstDataSector || totSec * bps > vol.length)
    bad("Cannot read FAT", "a data region inside the partition", `${totSec} sectors`);
  const clusters = Math.floor((totSec - firstDataSector) / bpb.secPerClus);
  const kind = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
  const fat = slice(vol, bpb.rsvdSecCnt * bps, fatSz * bps, "FAT");
  const clusterBytes = bpb.secPerClus * bps;
  const eoc = kind === 12 ? 0xff8 : kind === 16 ? 0xfff8 : 0x0ffffff8;
  const next = (c: number): number => {
    const dv = new DataView(fat.buffer, fat.byteOffset, fat.byteLength);
    const off = kind === 12 ? c + (c >> 1) : kind === 16 ? c * 2 : c * 4;
    if (off + (kind === 32 ? 4 : 2) > fat.length)
      bad("Cannot read FAT", "a cluster inside the FAT", String(c));
    if (kind === 12) {
      const v = dv.getUint16(off, true);
      return c & 1 ? v >> 4 : v & 0xfff;
    }
    return kind === 16 ? dv.getUint16(off, true) : dv.getUint32(off, true) & 0x0fffffff;
  };
  const chain = (first: number, maxBytes: number): Uint8Array => {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let c = first, n = 0; c < eoc; c = next(c), n++) {
      if (c < 2 || c >= clusters + 2 || n > MAX_CLUSTERS_IN_CHAIN)
        bad("Cannot read FAT", "a valid cluster chain", String(c));
      parts.push(slice(vol, (firstDataSector + (c - 2) * bpb.secPerClus) * bps, clusterBytes, "cluster"));
      total += clusterBytes;
      // A chain longer than the volume has a cycle.
      if (total > vol.length)
        bad("Cannot read FAT", "an acyclic cluster chain", `more than ${vol.length} bytes`);
      if (total >= maxBytes) break;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  };
  let dir =
    kind === 32
      ? chain(bpb.rootClus, 16 * 1024 * 1024)
      : slice(vol, (bpb.rsvdSecCnt + bpb.numFats * fatSz) * bps, rootDirSectors * bps, "root directory");
  for (let i = 0; i < path.length; i++) {
    const want = shortName(path[i]!);
    const last = i === path.length - 1;
    let found: { cluster: number; size: number; isDir: boolean } | undefined;
    for (let o = 0; o + 32 <= dir.length; o += 32) {
      const first = dir[o]!;
      if (first === 0) break;
      const attr = dir[o + 11]!;
      if (first === 0xe5 || attr === 0x0f || attr & 0x08) continue;
      if (new TextDecoder("latin1").decode(dir.subarray(o, o + 11)) !== want) continue;
      const dv = new DataView(dir.buffer, dir.byteOffset + o, 32);
      found = {
        cluster: (dv.getUint16(20, true) << 16) | dv.getUint16(26, true),
        size: dv.getUint32(28, true),
        isDir: (attr & 0x10) !== 0,
      };
      break;
    }
    if (found === undefined || found.isDir === last)
      bad("Cannot find the UKI on the ESP", `\\${path.join("\\")}`, `no ${path[i]}`);
    dir = last
      ? chain(found.cluster, found.size).subarray(0, found.size)
      : chain(found.cluster, 16 * 1024 * 1024);
    if (last && dir.length !== found.size) bad("Cannot read FAT", `${found.size} bytes`, `${dir.length}`);
  }
  return dir;
}

function readBpb(vol: Uint8Array) {
  try {
    return decode(FAT_BPB, slice(vol, 0, 48, "FAT boot sector"));
  } catch (err) {
    if (err instanceof CodecError) bad("Cannot read FAT", "a boot sector", err.code, err);
    throw err;
  }
}

function shortName(component: string): string {
  const [base = "", ext = ""] = component.toUpperCase().split(".");
  return base.padEnd(8, " ") + ext.padEnd(3, " ");
}

/** The UKI a firmware boots from a node disk image: \EFI\BOOT\BOOTX64.EFI on the ESP. */
export function ukiFromDiskImage(disk: Uint8Array): Uint8Array {
  return readFatFile(findEsp(disk), ["EFI", "BOOT", "BOOTX64.EFI"]);
}
