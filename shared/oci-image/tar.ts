import { OciError } from "./errors.ts";

/** One file-system entry of a layer. Ownership and mode are explicit: nothing comes from the build host. */
export type TarEntry =
  | {
      readonly type: "file";
      readonly path: string;
      readonly mode: number;
      readonly uid?: number;
      readonly gid?: number;
      readonly content: Uint8Array;
    }
  | {
      readonly type: "dir";
      readonly path: string;
      readonly mode: number;
      readonly uid?: number;
      readonly gid?: number;
    }
  | { readonly type: "symlink"; readonly path: string; readonly target: string };

const BLOCK = 512;
/** Every entry's mtime: the epoch. Layer bytes must not depend on when or where they were built. */
export const FIXED_MTIME = 0;
/** ustar size field: 11 octal digits. */
const MAX_FILE_BYTES = 0o77777777777;

const encoder = new TextEncoder();

function normalize(path: string): string {
  const p = path.replace(/^\/+/, "").replace(/\/+$/, "");
  // NUL would end the field early: the archive would hold another name than the one we were given.
  if (p === "" || p.includes("\0") || p.split("/").some((s) => s === "" || s === "." || s === ".."))
    throw new OciError("INVALID_ENTRY", "Cannot add tar entry", {
      expected: "a clean relative path",
      actual: path,
    });
  return p;
}

function writeString(h: Uint8Array, offset: number, length: number, value: string, what: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length)
    throw new OciError("PATH_TOO_LONG", `Cannot write tar ${what}`, {
      expected: `<= ${length} bytes`,
      actual: value,
    });
  h.set(bytes, offset);
}

function writeOctal(h: Uint8Array, offset: number, length: number, value: number): void {
  // length-1 zero-padded octal digits and a NUL, as GNU tar writes them.
  writeString(h, offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`, "number");
}

/** Splits a path into ustar (prefix, name) so that name <= 100 and prefix <= 155 bytes. */
function splitPath(path: string): [string, string] {
  if (encoder.encode(path).length <= 100) return ["", path];
  for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) return [prefix, name];
  }
  throw new OciError("PATH_TOO_LONG", "Cannot add tar entry", {
    expected: "a path that fits ustar",
    actual: path,
  });
}

function header(e: TarEntry, path: string, size: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const [prefix, name] = splitPath(e.type === "dir" ? `${path}/` : path);
  writeString(h, 0, 100, name, "name");
  const mode = e.type === "symlink" ? 0o777 : e.mode;
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, e.type === "symlink" ? 0 : (e.uid ?? 0));
  writeOctal(h, 116, 8, e.type === "symlink" ? 0 : (e.gid ?? 0));
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, FIXED_MTIME);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h[156] = (e.type === "file" ? "0" : e.type === "dir" ? "5" : "2").charCodeAt(0);
  if (e.type === "symlink") writeString(h, 157, 100, e.target, "link target");
  writeString(h, 257, 6, "ustar\0", "magic");
  writeString(h, 263, 2, "00", "version");
  // No user/group names: numeric ids only, so the host's /etc/passwd cannot leak in.
  writeOctal(h, 329, 8, 0);
  writeOctal(h, 337, 8, 0);
  writeString(h, 345, 155, prefix, "prefix");
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `, "checksum");
  return h;
}

/**
 * A reproducible ustar archive: entries sorted by path, parent directories added (0755 root), fixed mtime,
 * numeric ownership only, no user/group names, two zero blocks at the end. Same entries → same bytes.
 * Duplicate paths are an error (a layer must not depend on insertion order).
 */
export function createTar(entries: readonly TarEntry[]): Uint8Array {
  const byPath = new Map<string, TarEntry>();
  for (const e of entries) {
    const path = normalize(e.path);
    if (e.type === "symlink" && (e.target === "" || e.target.includes("\0")))
      throw new OciError("INVALID_ENTRY", "Cannot add tar entry", {
        expected: "a symlink target without NUL",
        actual: path,
      });
    if (byPath.has(path))
      throw new OciError("INVALID_ENTRY", "Cannot add tar entry", { expected: "unique paths", actual: path });
    if (e.type !== "symlink" && (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777))
      throw new OciError("INVALID_ENTRY", "Cannot add tar entry", {
        expected: "mode 0..07777",
        actual: `${path} ${e.mode}`,
      });
    if (e.type === "file" && e.content.length > MAX_FILE_BYTES)
      throw new OciError("INVALID_ENTRY", "Cannot add tar entry", { expected: "< 8 GiB", actual: path });
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (!byPath.has(parent)) byPath.set(parent, { type: "dir", path: parent, mode: 0o755 });
    }
  }
  const sorted = [...byPath.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const [path, e] of sorted) {
    const content = e.type === "file" ? e.content : new Uint8Array(0);
    const h = header(e, path, content.length);
    chunks.push(h);
    total += BLOCK;
    if (content.length > 0) {
      const padded = Math.ceil(content.length / BLOCK) * BLOCK;
      chunks.push(content);
      if (padded > content.length) chunks.push(new Uint8Array(padded - content.length));
      total += padded;
    }
  }
  chunks.push(new Uint8Array(2 * BLOCK));
  total += 2 * BLOCK;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
