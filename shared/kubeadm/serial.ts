import { toHex } from "@asterism/bytes";

/** Serial number length in bytes: 128 random bits, as RFC 5280 §4.1.2.2 allows (≤ 20 octets) and CAs use. */
export const SERIAL_BYTES = 16;

/**
 * A random positive serial number as hex, from the injected CSPRNG. The top bit is cleared so the DER INTEGER
 * stays positive without a padding byte, and the next bit is set so it always has full length (126 random
 * bits remain).
 */
export function randomSerial(randomBytes: (n: number) => Uint8Array): string {
  const b = randomBytes(SERIAL_BYTES).slice(0, SERIAL_BYTES);
  if (b.length !== SERIAL_BYTES) throw new RangeError("randomBytes returned too few bytes");
  b[0] = ((b[0] as number) & 0x7f) | 0x40;
  return toHex(b);
}
