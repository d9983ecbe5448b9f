/**
 * The master secret file, Constellation's format: `{"key": "<b64>", "salt": "<b64>"}` (DESIGN.md
 * "Compatibility"), mode 0600, and NEVER overwritten: it is the only way to derive the cluster's disk
 * keys and to recover a cluster whose control plane is gone.
 */
import { readFileSync } from "node:fs";
import { fromBase64, toBase64 } from "@asterism/bytes";
import * as v from "valibot";
import { WorkspaceError } from "./errors.ts";
import { createPrivateFile, isGroupOrWorldAccessible } from "./secret-file.ts";

/** Key and salt lengths the CLI generates (Constellation: 32 bytes each). */
export const MASTER_KEY_BYTES = 32;
export const MASTER_SALT_BYTES = 32;
/** Constellation's KeyService minimums (reference §6.1). */
const MIN_KEY = 16;
const MIN_SALT = 32;
const MAX_FILE = 16 * 1024;

/** The master secret. */
export interface MasterSecret {
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
}

const FileSchema = v.strictObject({ key: v.string(), salt: v.string() });

/** Serialize to the file format (compact JSON, `key` before `salt`). */
export function serializeMasterSecret(s: MasterSecret): string {
  return JSON.stringify({ key: toBase64(s.key), salt: toBase64(s.salt) });
}

/**
 * Generate a fresh master secret and write it to `path` (0600). Refuses with MASTER_SECRET_EXISTS if the
 * file exists, whatever it holds.
 */
export function createMasterSecretFile(
  path: string,
  random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n)),
): MasterSecret {
  const secret = { key: random(MASTER_KEY_BYTES), salt: random(MASTER_SALT_BYTES) };
  try {
    createPrivateFile(path, serializeMasterSecret(secret));
  } catch (cause) {
    if (cause instanceof WorkspaceError && cause.code === "FILE_EXISTS") {
      throw new WorkspaceError("MASTER_SECRET_EXISTS", `Refusing to overwrite the master secret ${path}`, {
        expected: "no master secret file (it is the only key to the cluster's disks; move it away yourself)",
        actual: "the file exists",
      });
    }
    throw cause;
  }
  return secret;
}

/**
 * Read a master secret file. Refuses a file readable by group or others (MASTER_SECRET_INVALID): a
 * leaked master secret decrypts every disk of the cluster. Messages never echo the file's contents.
 */
export function readMasterSecretFile(path: string): MasterSecret {
  const fail = (actual: string, cause?: unknown) =>
    new WorkspaceError("MASTER_SECRET_INVALID", `Cannot use the master secret ${path}`, {
      expected: '{"key": base64 (≥16 bytes), "salt": base64 (≥32 bytes)}, mode 0600',
      actual,
      ...(cause === undefined ? {} : { cause }),
    });
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (cause) {
    throw fail("unreadable", cause);
  }
  if (isGroupOrWorldAccessible(path)) throw fail("accessible to group or others (chmod 600 it)");
  if (raw.length > MAX_FILE) throw fail(`${raw.length} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch {
    throw fail("not JSON");
  } finally {
    raw.fill(0);
  }
  const r = v.safeParse(FileSchema, json);
  if (!r.success) throw fail("not {key, salt}");
  let key: Uint8Array;
  let salt: Uint8Array;
  try {
    key = fromBase64(r.output.key);
    salt = fromBase64(r.output.salt);
  } catch {
    throw fail("invalid base64");
  }
  if (key.length < MIN_KEY || salt.length < MIN_SALT)
    throw fail(`key ${key.length} / salt ${salt.length} bytes`);
  return { key, salt };
}
