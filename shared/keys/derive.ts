import { utf8, wipe } from "@asterism/bytes";
import { bufferSource } from "./_internal.ts";
import {
  CURRENT_VERSION,
  DERIVATION_CONTEXTS,
  type DerivationContext,
  type DerivationPurpose,
  MAX_DATA_KEY_LENGTH,
} from "./contexts.ts";
import { KeysError } from "./errors.ts";

/** Upper bound on secret and salt sizes: far above any real value, low enough to refuse abuse. */
export const MAX_SECRET_LENGTH = 1024;
/** HKDF-SHA256 can expand to at most 255 hash blocks (RFC 5869 §2.3). */
const HKDF_SHA256_MAX = 255 * 32;

/**
 * Raw HKDF-SHA256, extract then expand (RFC 5869), through WebCrypto. No policy: empty salts and any
 * info are allowed, so it can replay RFC 5869's own vectors. Production code calls {@link deriveKey}.
 */
export async function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_SHA256_MAX) {
    throw new KeysError("INVALID_LENGTH", "Cannot run HKDF-SHA256", {
      expected: `1–${HKDF_SHA256_MAX} bytes`,
      actual: String(length),
    });
  }
  const key = await crypto.subtle.importKey("raw", bufferSource(ikm), "HKDF", false, ["deriveBits"]);
  return expand(key, salt, info, length);
}

async function expand(
  key: CryptoKey,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: bufferSource(salt), info: bufferSource(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

/** Parameters of {@link deriveKey}. */
export interface DeriveKeyOptions {
  /** Input keying material: the master key (or the measurement secret for `clusterId`). */
  readonly secret: Uint8Array;
  /** HKDF salt: the master salt (or the measurement salt for `clusterId`). Must not be empty. */
  readonly salt: Uint8Array;
  /** Named purpose from `contexts.ts`. */
  readonly purpose: DerivationPurpose;
  /** Id for purposes that take one (`diskKey`: lower-case LUKS UUID; `dataKey`: UUID or named id). */
  readonly id?: string;
  /** Output length; required for `dataKey` (1–4096), optional (must match) for fixed-length purposes. */
  readonly length?: number;
  /** Scheme version; defaults to the purpose's current version. */
  readonly version?: number;
}

/**
 * Derive a key for a named, versioned purpose: HKDF-SHA256(ikm = secret, salt, info = context(id), length).
 * Version 1 of every purpose reproduces Constellation's keys (VECTORS.md V7/V8).
 *
 * @example
 * const diskKey = await deriveKey({ secret: master.key, salt: master.salt, purpose: "diskKey",
 *   id: "12345678-1234-1234-1234-123456789abc" });
 */
export async function deriveKey(options: DeriveKeyOptions): Promise<Uint8Array> {
  checkSecret("secret", options.secret);
  checkSecret("salt", options.salt);
  const key = await crypto.subtle.importKey("raw", bufferSource(options.secret), "HKDF", false, [
    "deriveBits",
  ]);
  return deriveWith(key, options.salt, options);
}

/** Resolve a purpose/version, validate id and length, and return the info bytes and output length. */
export function resolveContext(
  purpose: DerivationPurpose,
  id: string | undefined,
  length: number | undefined,
  version?: number,
): { readonly context: DerivationContext; readonly info: Uint8Array; readonly length: number } {
  const versions: Readonly<Record<number, DerivationContext>> | undefined = DERIVATION_CONTEXTS[purpose];
  if (versions === undefined) {
    throw new KeysError("UNKNOWN_PURPOSE", "Cannot derive key", {
      expected: `one of ${Object.keys(DERIVATION_CONTEXTS).join(", ")}`,
      actual: JSON.stringify(String(purpose).slice(0, 32)),
    });
  }
  const v = version ?? CURRENT_VERSION[purpose];
  const context = versions[v];
  if (context === undefined) {
    throw new KeysError("UNKNOWN_KEY_VERSION", `Cannot derive ${purpose} key`, {
      expected: `version ${Object.keys(versions).join(", ")}`,
      actual: String(v),
    });
  }
  checkId(context, id);
  const out = context.length ?? length;
  if (
    out === undefined ||
    !Number.isInteger(out) ||
    out < 1 ||
    out > MAX_DATA_KEY_LENGTH ||
    (length !== undefined && length !== out)
  ) {
    throw new KeysError("INVALID_LENGTH", `Cannot derive ${purpose} key`, {
      expected: context.length === undefined ? `1–${MAX_DATA_KEY_LENGTH} bytes` : `${context.length} bytes`,
      actual: String(length),
    });
  }
  return { context, info: utf8(context.info(id)), length: out };
}

/** Derive from an already imported HKDF key (used by {@link ClusterKeys} to avoid re-importing). */
export async function deriveWith(
  key: CryptoKey,
  salt: Uint8Array,
  options: Pick<DeriveKeyOptions, "purpose" | "id" | "length" | "version">,
): Promise<Uint8Array> {
  const { info, length } = resolveContext(options.purpose, options.id, options.length, options.version);
  return expand(key, salt, info, length);
}

function checkId(context: DerivationContext, id: string | undefined): void {
  if (context.id === undefined) {
    if (id !== undefined) {
      throw new KeysError("INVALID_KEY_ID", `Cannot derive ${context.purpose} key`, {
        expected: "no id",
        actual: "an id",
      });
    }
    return;
  }
  if (id === undefined || !context.id.accepts(id)) {
    throw new KeysError("INVALID_KEY_ID", `Cannot derive ${context.purpose} key`, {
      expected: context.id.describe,
      actual: id === undefined ? "no id" : JSON.stringify(id.slice(0, 40)),
    });
  }
}

/** Constellation refuses empty keys and salts; we also bound them. */
export function checkSecret(name: string, b: Uint8Array): void {
  if (b.length === 0 || b.length > MAX_SECRET_LENGTH) {
    throw new KeysError("INVALID_SECRET", `Cannot use ${name} for HKDF`, {
      expected: `1–${MAX_SECRET_LENGTH} bytes`,
      actual: `${b.length} bytes`,
    });
  }
}

/**
 * Cluster-managed key source: the master secret imported once into a non-extractable WebCrypto key.
 * The caller's copy of the key bytes is wiped by {@link ClusterKeys.create}, so afterwards the master key
 * lives only inside the crypto engine (best effort: JavaScript may have made copies before).
 */
export class ClusterKeys {
  private constructor(
    private readonly key: CryptoKey,
    private readonly salt: Uint8Array,
  ) {}

  /** Import `secret` (wiped afterwards) with `salt` (kept; salts are not secret). */
  static async create(secret: Uint8Array, salt: Uint8Array): Promise<ClusterKeys> {
    checkSecret("master key", secret);
    checkSecret("master salt", salt);
    try {
      const key = await crypto.subtle.importKey("raw", bufferSource(secret), "HKDF", false, ["deriveBits"]);
      return new ClusterKeys(key, salt.slice());
    } finally {
      wipe(secret);
    }
  }

  /** Derive for a purpose; see {@link deriveKey}. */
  derive(options: Pick<DeriveKeyOptions, "purpose" | "id" | "length" | "version">): Promise<Uint8Array> {
    return deriveWith(this.key, this.salt, options);
  }
}

/**
 * Cluster ID = HKDF-SHA256(ikm = measurementSecret, salt = measurementSalt, info = "key-clusterID", 32).
 */
export function deriveClusterId(
  measurementSecret: Uint8Array,
  measurementSalt: Uint8Array,
): Promise<Uint8Array> {
  return deriveKey({ secret: measurementSecret, salt: measurementSalt, purpose: "clusterId" });
}
