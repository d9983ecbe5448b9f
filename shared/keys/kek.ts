import { concat, constantTimeEqual, isAllZero, utf8, wipe } from "@asterism/bytes";
import { bytes, CodecError, constant, decodePrefix, encode, sized, struct, u32 } from "@asterism/codec";
import { bufferSource } from "./_internal.ts";
import { MAX_DATA_KEY_LENGTH } from "./contexts.ts";
import { KekError } from "./errors.ts";

/**
 * A key-encryption key (KEK) of one version. Implementations wrap opaque payloads whose length is a
 * multiple of 8 and at least 16 bytes (what RFC 3394 AES key wrap takes); the payload framing, which
 * binds each data key to its id, is done by {@link wrapDataKey} so every KEK backend shares it.
 */
export interface KeyEncryptionKey {
  /** Monotonic version number; rotation moves every data key to a higher one. */
  readonly version: number;
  /** Wrap `payload` (authenticated: tampering is detected on unwrap). */
  wrap(payload: Uint8Array): Promise<Uint8Array>;
  /** Unwrap; throws {@link KekError} `UNWRAP_FAILED` when the integrity check fails. */
  unwrap(wrapped: Uint8Array): Promise<Uint8Array>;
}

/** The set of KEK versions a KMS can use: the current one wraps, every listed one unwraps. */
export interface KekRing {
  /** Version that wraps new data keys. */
  readonly current: number;
  /** The KEK of `version`, or undefined when the ring (HSM) has no such version. */
  get(version: number): KeyEncryptionKey | undefined;
}

/** A ring over a fixed list of KEKs; `current` is the highest version unless given. */
export function createKekRing(keks: readonly KeyEncryptionKey[], current?: number): KekRing {
  const byVersion = new Map(keks.map((k) => [k.version, k]));
  const cur = current ?? Math.max(...byVersion.keys());
  if (!byVersion.has(cur)) {
    throw new KekError("UNKNOWN_KEK_VERSION", "Cannot build KEK ring", {
      expected: `one of ${[...byVersion.keys()].join(", ") || "(none)"}`,
      actual: String(cur),
    });
  }
  return { current: cur, get: (v) => byVersion.get(v) };
}

/** Look up a version or fail with `UNKNOWN_KEK_VERSION`. */
export function requireKek(ring: KekRing, version: number): KeyEncryptionKey {
  const kek = ring.get(version);
  if (kek === undefined) {
    throw new KekError("UNKNOWN_KEK_VERSION", "Cannot find key-encryption key", {
      expected: "a version the HSM holds",
      actual: String(version),
    });
  }
  return kek;
}

/** "ADK1": Asterism data key, framing version 1. */
const DATA_KEY_MAGIC = 0x41444b31;
const BINDING_LABEL = "asterism/kms/data-key/v1\0";

/**
 * What is wrapped for one data key (our own format; AES key wrap has no associated data, so the id is
 * bound inside the payload). After it come 0–7 zero bytes so the payload is a multiple of 8 bytes.
 *
 * ```
 * DATA_KEY_PAYLOAD := magic u32 "ADK1" ‖ binding[32] = SHA-256("asterism/kms/data-key/v1\0" ‖ id)
 *                     ‖ keyLength u32 ‖ key[keyLength] ‖ zero padding
 * ```
 */
export const DATA_KEY_PAYLOAD = struct("DATA_KEY_PAYLOAD", {
  magic: constant(u32, DATA_KEY_MAGIC, "DATA_KEY_MAGIC"),
  binding: bytes(32),
  key: sized(u32, { max: MAX_DATA_KEY_LENGTH, name: "DATA_KEY" }),
});

async function bindingOf(id: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bufferSource(utf8(BINDING_LABEL + id))));
}

/** Wrap one data key for `id` under `kek`. The plaintext payload is wiped afterwards. */
export async function wrapDataKey(kek: KeyEncryptionKey, id: string, key: Uint8Array): Promise<Uint8Array> {
  const body = encode(DATA_KEY_PAYLOAD, { magic: DATA_KEY_MAGIC, binding: await bindingOf(id), key });
  const payload = concat(body, new Uint8Array((8 - (body.length % 8)) % 8));
  wipe(body);
  try {
    return await kek.wrap(payload);
  } finally {
    wipe(payload);
  }
}

/**
 * Unwrap one data key and check it belongs to `id` and has `length` bytes. A blob moved from another
 * record fails with `BINDING_MISMATCH` even though the KEK accepted it.
 */
export async function unwrapDataKey(
  kek: KeyEncryptionKey,
  id: string,
  length: number,
  wrapped: Uint8Array,
): Promise<Uint8Array> {
  const payload = await kek.unwrap(wrapped);
  try {
    let parsed: { binding: Uint8Array; key: Uint8Array };
    let padding: Uint8Array;
    try {
      const r = decodePrefix(DATA_KEY_PAYLOAD, payload);
      parsed = r.value;
      padding = r.rest;
    } catch (cause) {
      if (!(cause instanceof CodecError)) throw cause;
      throw new KekError("UNWRAP_FAILED", `Cannot read unwrapped data key (KEK v${kek.version})`, {
        expected: "DATA_KEY_PAYLOAD",
        actual: cause.code,
      });
    }
    if (padding.length >= 8 || !isAllZero(padding)) {
      wipe(parsed.key);
      throw new KekError("UNWRAP_FAILED", `Cannot read unwrapped data key (KEK v${kek.version})`, {
        expected: "0–7 zero padding bytes",
        actual: `${padding.length} bytes`,
      });
    }
    if (!constantTimeEqual(parsed.binding, await bindingOf(id)) || parsed.key.length !== length) {
      wipe(parsed.key);
      throw new KekError("BINDING_MISMATCH", "Wrapped data key belongs to another id or length", {
        expected: `id ${id}, ${length} bytes`,
      });
    }
    return parsed.key.slice();
  } finally {
    wipe(payload);
  }
}
