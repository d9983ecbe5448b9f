/**
 * Constant-time equality for secrets and MACs: the time taken depends only on the lengths, never on
 * where the first difference is. Lengths are not secret here (every caller compares fixed-size values),
 * so a length mismatch returns early.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Ordinary byte equality for public data (digests in logs, structure fields). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Concatenate byte arrays into a new one. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** True when every byte is zero. */
export function isAllZero(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** Overwrite a buffer that held key material. JavaScript may have copies elsewhere; this is best effort. */
export function wipe(b: Uint8Array): void {
  b.fill(0);
}
