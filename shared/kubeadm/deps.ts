/**
 * The world this module touches, injected (house style §14): WebCrypto, a CSPRNG and a clock. Tests pass a
 * pinned clock and, where they need reproducible output, a seeded byte source.
 */
export interface PkiDeps {
  /** WebCrypto implementation used for key generation, signing and verification. */
  readonly crypto: Crypto;
  /** `n` bytes from a cryptographically secure generator. */
  readonly randomBytes: (n: number) => Uint8Array;
  /** The current time. */
  readonly now: () => Date;
}

/** Production defaults: the runtime's WebCrypto, its CSPRNG and the system clock. */
export function defaultPkiDeps(): PkiDeps {
  return {
    crypto: globalThis.crypto,
    randomBytes: (n) => globalThis.crypto.getRandomValues(new Uint8Array(n)),
    now: () => new Date(),
  };
}

/** Fills in whatever the caller left out with {@link defaultPkiDeps}. */
export function resolvePkiDeps(deps: Partial<PkiDeps> = {}): PkiDeps {
  return { ...defaultPkiDeps(), ...deps };
}
