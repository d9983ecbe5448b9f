import { promisify } from "node:util";
import { deflateRaw, deflateRawSync } from "node:zlib";

const deflateRawAsync = promisify(deflateRaw);

/** gzip level: 6 is zlib's default; the bytes depend on it, so it is part of the image recipe. */
export const GZIP_LEVEL = 6;

/**
 * RFC 1952 gzip with a fixed header: no file name, MTIME 0, XFL 0, OS 255 ("unknown"), so the output
 * depends only on the input and the deflate implementation (Bun's zlib; pinned with Bun itself).
 */
export function gzipDeterministic(data: Uint8Array): Uint8Array {
  return frame(data, deflateRawSync(data, { level: GZIP_LEVEL }));
}

/**
 * {@link gzipDeterministic} on zlib's thread pool, so several layers compress in parallel. Same bytes as
 * the synchronous form (same zlib, same parameters).
 */
export async function gzipDeterministicAsync(data: Uint8Array): Promise<Uint8Array> {
  return frame(data, await deflateRawAsync(data, { level: GZIP_LEVEL }));
}

function frame(data: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(10 + body.length + 8);
  out.set([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff], 0);
  out.set(body, 10);
  const view = new DataView(out.buffer);
  view.setUint32(10 + body.length, Bun.hash.crc32(data) >>> 0, true);
  view.setUint32(14 + body.length, data.length >>> 0, true); // ISIZE: length mod 2^32
  return out;
}
