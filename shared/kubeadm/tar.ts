import { mkdir, open, rm } from "node:fs/promises";
import { join, posix } from "node:path";
import { gunzipSync } from "node:zlib";
import { at, bytes, decode, layout } from "@asterism/codec";
import { ComponentError } from "./errors.ts";

/** Size of a tar block (POSIX.1-2017 pax, "ustar Interchange Format"). */
const BLOCK = 512;
/** Entries per archive; Kubernetes tarballs (CNI plugins, crictl) have a few dozen. */
export const MAX_TAR_ENTRIES = 10_000;

/**
 * The ustar header block, POSIX.1-2017 `pax` §"ustar Interchange Format" (struct at offsets 0..500), plus the
 * 12 trailing pad bytes. Numeric fields are NUL/space-terminated octal ASCII, decoded below. GNU tar's
 * `ustar  \0` variant shares the offsets we use (it puts other data where POSIX has `prefix`).
 */
const UstarHeader = layout("ustar header", BLOCK, {
  name: at(0, bytes(100)),
  mode: at(100, bytes(8)),
  uid: at(108, bytes(8)),
  gid: at(116, bytes(8)),
  size: at(124, bytes(12)),
  mtime: at(136, bytes(12)),
  chksum: at(148, bytes(8)),
  typeflag: at(156, bytes(1)),
  linkname: at(157, bytes(100)),
  magic: at(257, bytes(6)),
  version: at(263, bytes(2)),
  uname: at(265, bytes(32)),
  gname: at(297, bytes(32)),
  devmajor: at(329, bytes(8)),
  devminor: at(337, bytes(8)),
  prefix: at(345, bytes(155)),
  pad: at(500, bytes(12)),
});

function unsafe(why: string): ComponentError {
  return new ComponentError("COMPONENT_ARCHIVE_UNSAFE", "Refusing archive", {
    expected: "a plain tar.gz of regular files and directories with relative, non-escaping names",
    actual: why,
  });
}

function cstring(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder("utf-8", { fatal: false }).decode(end === -1 ? b : b.subarray(0, end));
}

function octal(b: Uint8Array, field: string): number {
  const s = cstring(b).trim();
  if (!/^[0-7]{1,12}$/.test(s)) throw unsafe(`non-octal ${field}`);
  const n = Number.parseInt(s, 8);
  if (!Number.isSafeInteger(n)) throw unsafe(`${field} out of range`);
  return n;
}

/** One entry of an archive, after every safety check. */
export interface TarEntry {
  readonly path: string;
  readonly type: "file" | "directory";
  readonly mode: number;
  readonly data: Uint8Array;
}

/**
 * Parses an uncompressed tar archive into entries, refusing anything that could write outside the target:
 * absolute names, `..` segments, links, devices, FIFOs and pax/GNU extension headers are all
 * `COMPONENT_ARCHIVE_UNSAFE`; so are bad checksums, truncation and more than {@link MAX_TAR_ENTRIES} entries.
 */
export function parseTar(tar: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  while (off + BLOCK <= tar.length) {
    const block = tar.subarray(off, off + BLOCK);
    if (block.every((x) => x === 0)) return entries; // end-of-archive marker
    if (entries.length >= MAX_TAR_ENTRIES) throw unsafe(`more than ${MAX_TAR_ENTRIES} entries`);
    const h = decode(UstarHeader, block);
    const magic = cstring(h.magic);
    if (magic !== "ustar" && magic !== "ustar ") throw unsafe("not a ustar header");
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    if (octal(h.chksum, "checksum") !== sum) throw unsafe("header checksum mismatch");
    const size = octal(h.size, "size");
    const type = String.fromCharCode(h.typeflag[0] as number);
    const prefix = magic === "ustar" ? cstring(h.prefix) : "";
    const raw = prefix ? `${prefix}/${cstring(h.name)}` : cstring(h.name);
    const dataStart = off + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw unsafe("truncated entry");
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const path = safeRelativePath(raw);
    if (type === "0" || type === "\0" || type === "7") {
      if (path === undefined) throw unsafe("file entry without a name");
      entries.push({
        path,
        type: "file",
        mode: octal(h.mode, "mode"),
        data: tar.subarray(dataStart, dataEnd),
      });
    } else if (type === "5") {
      if (path !== undefined)
        entries.push({ path, type: "directory", mode: octal(h.mode, "mode"), data: new Uint8Array() });
    } else {
      throw unsafe(
        `entry type ${JSON.stringify(type)} (links, devices and extension headers are not allowed)`,
      );
    }
  }
  throw unsafe("missing end-of-archive marker");
}

/** `undefined` for the archive root (`.`/`./`), else a clean relative path; throws if it could escape. */
function safeRelativePath(raw: string): string | undefined {
  if (raw.includes("\\") || raw.startsWith("/")) throw unsafe(`name ${JSON.stringify(raw.slice(0, 100))}`);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw unsafe(`name ${JSON.stringify(raw.slice(0, 100))}`);
  if (parts.length === 0) return undefined;
  return posix.join(...parts);
}

/** Options of {@link extractTarGz}. */
export interface ExtractOptions {
  /** Bound on the decompressed archive size (decompression bombs). */
  readonly maxBytes: number;
}

/**
 * Unpacks a gzip-compressed tar under `dest` (created if needed). Everything is parsed and checked before the
 * first file is written. Files keep only their executable bit: 0755 if any x bit was set, else 0644.
 */
export async function extractTarGz(
  archive: Uint8Array,
  dest: string,
  opts: ExtractOptions,
): Promise<string[]> {
  let tar: Uint8Array;
  try {
    tar = gunzipSync(archive, { maxOutputLength: opts.maxBytes });
  } catch (cause) {
    throw new ComponentError("COMPONENT_ARCHIVE_UNSAFE", "Cannot decompress archive", {
      expected: `a gzip stream of at most ${opts.maxBytes} bytes`,
      actual: "invalid or oversized gzip data",
      cause,
    });
  }
  const entries = parseTar(tar);
  await mkdir(dest, { recursive: true, mode: 0o755 });
  const written: string[] = [];
  for (const e of entries) {
    const target = join(dest, e.path);
    if (e.type === "directory") {
      await mkdir(target, { recursive: true, mode: 0o755 });
      continue;
    }
    await mkdir(join(target, ".."), { recursive: true, mode: 0o755 });
    // Replace, never follow: an existing symlink at the target must not redirect the write.
    await rm(target, { force: true });
    const fh = await open(target, "wx", e.mode & 0o111 ? 0o755 : 0o644);
    try {
      await fh.writeFile(e.data);
    } finally {
      await fh.close();
    }
    written.push(e.path);
  }
  return written;
}
