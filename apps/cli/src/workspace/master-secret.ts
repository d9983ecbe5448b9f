/**
 * The master secret file, Constellation's format: `{"key": "<b64>", "salt": "<b64>"}` (DESIGN.md
 * "Compatibility"), mode 0600, and NEVER overwritten: it is the only way to derive the cluster's disk
 * keys and to recover a cluster whose control plane is gone.
 */
import { readFileSync } from "node:fs";
import { type MasterSecret, parseMasterSecret, serializeMasterSecret } from "@asterism/keys";
import { WorkspaceError } from "./errors.ts";
import { createPrivateFile, isGroupOrWorldAccessible } from "./secret-file.ts";

export type { MasterSecret };

/** Key and salt lengths the CLI generates (Constellation: 32 bytes each). */
export const MASTER_KEY_BYTES = 32;
export const MASTER_SALT_BYTES = 32;

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
 * Read a master secret file (strict parsing by @asterism/keys). Refuses a file readable by group or
 * others (MASTER_SECRET_INVALID): a leaked master secret decrypts every disk of the cluster. Messages
 * never echo the file's contents.
 */
export function readMasterSecretFile(path: string): MasterSecret {
  const fail = (actual: string, cause?: unknown) =>
    new WorkspaceError("MASTER_SECRET_INVALID", `Cannot use the master secret ${path}`, {
      expected: '{"key": base64 (16–1024 bytes), "salt": base64 (32–1024 bytes)}, mode 0600',
      actual,
      ...(cause === undefined ? {} : { cause }),
    });
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync(path));
  } catch (cause) {
    throw fail("unreadable", cause);
  }
  try {
    if (isGroupOrWorldAccessible(path)) throw fail("accessible to group or others (chmod 600 it)");
    try {
      return parseMasterSecret(raw);
    } catch (cause) {
      throw fail(cause instanceof Error ? cause.message.replace(/^.*?: /, "") : "malformed", cause);
    }
  } finally {
    raw.fill(0);
  }
}
