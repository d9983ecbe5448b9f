import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Write a file atomically (temporary name + rename) with `mode`; secrets use 0600. */
export async function writeAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/** Read a file, or undefined when it does not exist. */
export async function readOptional(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The files of the run directory (docs/lifecycle.md §5). */
export function runFiles(runDir: string) {
  return {
    eventLog: join(runDir, "eventlog.bin"),
    bootKey: join(runDir, "state.key"),
    status: join(runDir, "status.json"),
    nodeState: join(runDir, "node-state.json"),
    adminConf: join(runDir, "admin.conf"),
    kubeadmDir: join(runDir, "kubeadm"),
  };
}

/** Bootstrapper phases, as written to status.json and served at /v1/status. */
export type Phase =
  | "starting"
  | "waiting"
  | "initializing"
  | "joining"
  | "rejoining"
  | "done"
  | "already-bootstrapped"
  | "failed";

/** Status file contents. `error` is a code, never a message with secrets. */
export interface Status {
  readonly phase: Phase;
  readonly role?: string;
  readonly clusterId?: string;
  readonly activatedBy?: string;
  readonly error?: string;
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true });
}
