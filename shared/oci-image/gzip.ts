import { deflateRawSync } from "node:zlib";

/** gzip level: 6 is zlib's default; the bytes depend on it, so it is part of the image recipe. */
export const GZIP_LEVEL = 6;

/**
 * RFC 1952 gzip with a fixed header: no file name, MTIME 0, XFL 0, OS 255 ("unknown"), so the output
 * depends only on the input and the deflate implementation (Bun's zlib; pinned with Bun itself).
 */
export function gzipDeterministic(data: Uint8Array): Uint8Array {
  const body = deflateRawSync(data, { level: GZIP_LEVEL });
  const out = new Uint8Array(10 + body.length + 8);
  out.set([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff], 0);
  out.set(body, 10);
  const view = new DataView(out.buffer);
  view.setUint32(10 + body.length, Bun.hash.crc32(data) >>> 0, true);
  view.setUint32(14 + body.length, data.length >>> 0, true); // ISIZE: length mod 2^32
  return out;
}
