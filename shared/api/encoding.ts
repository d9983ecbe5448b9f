import { fromBase64 } from "@asterism/bytes";
import * as v from "valibot";

/**
 * A standard-base64 string field that decodes to bytes (valibot output `Uint8Array`), with an exact length
 * or a bound. Binary fields on our JSON wire are always padded standard base64 (RFC 4648 §4).
 */
export function base64Bytes(opts: { length?: number; max?: number } = {}) {
  const maxBytes = opts.length ?? opts.max ?? 64 * 1024;
  const what = opts.length === undefined ? `at most ${maxBytes} bytes` : `exactly ${opts.length} bytes`;
  return v.pipe(
    v.string(),
    v.maxLength(Math.ceil(maxBytes / 3) * 4, `must be base64 of ${what}`),
    v.check((s) => decodes(s, opts), `must be standard base64 of ${what}`),
    v.transform((s) => fromBase64(s)),
  );
}

function decodes(s: string, opts: { length?: number; max?: number }): boolean {
  try {
    const n = fromBase64(s).length;
    if (opts.length !== undefined) return n === opts.length;
    return opts.max === undefined || n <= opts.max;
  } catch {
    return false;
  }
}

/** Lower-case hex of exactly `bytes` bytes. */
export function hexString(bytes: number) {
  return v.pipe(v.string(), v.regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes} bytes of hex`));
}

/** A lower-case LUKS2 UUID (the id of a state-disk key). */
export const DiskUuidSchema = v.pipe(
  v.string(),
  v.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a lower-case UUID"),
);

/** `{"key": b64, "salt": b64}` — the master secret (Constellation's file format, same bounds as @asterism/keys). */
export const MasterSecretWireSchema = v.strictObject({
  key: base64Bytes({ max: 1024 }),
  salt: base64Bytes({ max: 1024 }),
});
