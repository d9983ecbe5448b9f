import type { CliIo } from "./command.ts";

/**
 * The real process I/O. `isTTY` says whether stdout is a terminal (spinners); colour additionally needs
 * NO_COLOR unset and TERM not "dumb" (see ui/style.ts).
 */
export function processIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    isTTY: Boolean(process.stdout.isTTY),
    env: process.env,
    cwd: process.cwd(),
  };
}

/** An I/O that records everything, for tests. */
export function memoryIo(
  env: Record<string, string | undefined> = {},
  cwd = process.cwd(),
): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    isTTY: false,
    env,
    cwd,
  };
}
