/**
 * WebCrypto's typings want `Uint8Array<ArrayBuffer>`; ours are `Uint8Array<ArrayBufferLike>`. Pass the
 * same view when it is backed by an ordinary ArrayBuffer (always, in practice) rather than copying: a
 * copy of a secret would be one more buffer to wipe.
 */
export function bufferSource(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}
