import { closeSync, fsyncSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { WorkspaceError } from "./errors.ts";

/**
 * Create `path` with mode 0600 and write `data`, failing if it exists (O_CREAT|O_EXCL: no race between
 * the check and the write, and never a moment where the secret is readable by others).
 */
export function createPrivateFile(path: string, data: string | Uint8Array): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (cause) {
    if ((cause as { code?: string }).code === "EEXIST") {
      throw new WorkspaceError("FILE_EXISTS", `Refusing to overwrite ${path}`, { cause });
    }
    throw cause;
  }
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replace `path` atomically (write a 0600 temporary file beside it, then rename). */
export function writePrivateFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  createPrivateFile(tmp, data);
  renameSync(tmp, path);
}

/** True when group or others may read/write `path`. */
export function isGroupOrWorldAccessible(path: string): boolean {
  return (statSync(path).mode & 0o077) !== 0;
}
