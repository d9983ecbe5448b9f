/**
 * A narrow key/value store for wrapped data keys. The embedded backend is {@link createFileKeyStore};
 * a Kubernetes Secret backend implements the same interface (later issue).
 *
 * Values are opaque bytes (the user-managed key layer stores JSON records). Every write is atomic: a
 * reader sees the old value or the new one, never a mix. `revision` is an opaque token that changes on
 * every write and drives compare-and-swap.
 */
export interface DataKeyStore {
  /** The value and its revision, or undefined when absent. */
  get(key: string): Promise<StoredValue | undefined>;
  /** Unconditional write; returns the new revision. */
  put(key: string, value: Uint8Array): Promise<string>;
  /**
   * Write only if the current revision is `expected` (`null`: only if absent). Returns the new revision,
   * or undefined when someone else wrote first (the caller re-reads and decides).
   */
  compareAndSwap(key: string, expected: string | null, value: Uint8Array): Promise<string | undefined>;
  /** Every key, sorted. */
  list(): Promise<string[]>;
}

/** A stored value and the revision it was read at. */
export interface StoredValue {
  readonly value: Uint8Array;
  readonly revision: string;
}

/** Store keys: a safe file/object name, not starting with a dot. */
export const STORE_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
