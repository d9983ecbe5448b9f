import { BytesError, fromBase64, fromUtf8, toBase64 } from "@asterism/bytes";
import * as v from "valibot";
import { KeysError } from "./errors.ts";

/** Constellation's KeyService requires a master key of at least 16 bytes (reference §6.1). */
export const MIN_MASTER_KEY_LENGTH = 16;
/** …and a salt of at least 32 bytes. */
export const MIN_MASTER_SALT_LENGTH = 32;
/** Upper bound for both; the CLI generates 32 bytes each. */
export const MAX_MASTER_SECRET_PART = 1024;
/** A master secret file is ~100 bytes; refuse to parse anything absurdly larger. */
export const MAX_MASTER_SECRET_FILE = 16 * 1024;

/** The master secret: HKDF input keying material and salt. */
export interface MasterSecret {
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
}

/** `constellation-mastersecret.json`: `{"key": "<std-b64>", "salt": "<std-b64>"}`, nothing else. */
export const MasterSecretFileSchema = v.strictObject({
  key: v.pipe(v.string(), v.maxLength(4 * MAX_MASTER_SECRET_PART)),
  salt: v.pipe(v.string(), v.maxLength(4 * MAX_MASTER_SECRET_PART)),
});
export type MasterSecretFile = v.InferOutput<typeof MasterSecretFileSchema>;

const ACTION = "Cannot parse master secret";

/**
 * Parse a master secret file (bytes or text). Strict: standard padded base64, no unknown fields, key
 * 16–1024 bytes, salt 32–1024 bytes. Errors never echo the file content.
 */
export function parseMasterSecret(input: Uint8Array | string): MasterSecret {
  const size = typeof input === "string" ? input.length : input.length;
  if (size > MAX_MASTER_SECRET_FILE) {
    throw new KeysError("INVALID_MASTER_SECRET", ACTION, {
      expected: `at most ${MAX_MASTER_SECRET_FILE} bytes`,
      actual: `${size} bytes`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof input === "string" ? input : fromUtf8(input));
  } catch (cause) {
    throw new KeysError("INVALID_MASTER_SECRET", ACTION, {
      expected: "UTF-8 JSON",
      actual: "not JSON",
      cause,
    });
  }
  const parsed = v.safeParse(MasterSecretFileSchema, json);
  if (!parsed.success) {
    throw new KeysError("INVALID_MASTER_SECRET", ACTION, {
      expected: '{"key": base64, "salt": base64}',
      actual: parsed.issues.map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.kind} ${i.type}`).join("; "),
    });
  }
  const key = decodePart("key", parsed.output.key, MIN_MASTER_KEY_LENGTH);
  const salt = decodePart("salt", parsed.output.salt, MIN_MASTER_SALT_LENGTH);
  return { key, salt };
}

function decodePart(name: string, b64: string, min: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(b64);
  } catch (cause) {
    if (!(cause instanceof BytesError)) throw cause;
    // Do not pass the BytesError on as-is: its message previews the (secret) input.
    throw new KeysError("INVALID_MASTER_SECRET", ACTION, {
      expected: `${name} as padded standard base64`,
      actual: "invalid base64",
    });
  }
  if (bytes.length < min || bytes.length > MAX_MASTER_SECRET_PART) {
    bytes.fill(0);
    throw new KeysError("INVALID_MASTER_SECRET", ACTION, {
      expected: `${name} of ${min}–${MAX_MASTER_SECRET_PART} bytes`,
      actual: `${bytes.length} bytes`,
    });
  }
  return bytes;
}

/** Serialize to the file format, compact JSON with `key` before `salt` (as Constellation writes it). */
export function serializeMasterSecret(secret: MasterSecret): string {
  // The same length rules as parsing, so a written file can always be read back.
  for (const [name, b, min] of [
    ["key", secret.key, MIN_MASTER_KEY_LENGTH],
    ["salt", secret.salt, MIN_MASTER_SALT_LENGTH],
  ] as const) {
    if (b.length < min || b.length > MAX_MASTER_SECRET_PART) {
      throw new KeysError("INVALID_MASTER_SECRET", "Cannot serialize master secret", {
        expected: `${name} of ${min}–${MAX_MASTER_SECRET_PART} bytes`,
        actual: `${b.length} bytes`,
      });
    }
  }
  return JSON.stringify({ key: toBase64(secret.key), salt: toBase64(secret.salt) });
}
