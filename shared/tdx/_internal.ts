/** Module-private helpers (not exported from index.ts). */

/** A view WebCrypto and @peculiar/x509 accept (`Uint8Array<ArrayBuffer>`); copies only if needed. */
export function ab(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return u.buffer instanceof ArrayBuffer ? (u as Uint8Array<ArrayBuffer>) : new Uint8Array(u);
}

/** SHA-256 of `data`. */
export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", ab(data)));
}

/** ECDSA P-256 / SHA-256 verification of a raw r‖s signature; false (never a throw) on bad input. */
export async function verifyP256(key: CryptoKey, signature: Uint8Array, data: Uint8Array): Promise<boolean> {
  try {
    return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, ab(signature), ab(data));
  } catch {
    return false;
  }
}
