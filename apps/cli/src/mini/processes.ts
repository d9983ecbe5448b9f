/**
 * Long-lived local processes that outlive the CLI: `mini up` starts them in their own session (setsid,
 * so a Ctrl-C in the terminal does not reach them), records PID and start time in the state file, and
 * `mini down` finds them there. The start time (field 22 of /proc/<pid>/stat, clock ticks since boot)
 * tells a recorded process from an unrelated one that later got the same PID: we never signal a stranger.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { MiniError } from "./errors.ts";

/** What to start. */
export interface DaemonSpec {
  /** Short name for messages and the state file, e.g. `swtpm`, `bootstrapper`. */
  readonly name: string;
  readonly argv: readonly string[];
  /**
   * The complete environment of the process. Nothing is inherited from the CLI (its environment may
   * hold credentials the process has no business seeing) except PATH, added by {@link startDaemon}.
   */
  readonly env: Readonly<Record<string, string>>;
  /** stdout and stderr go here (appended). */
  readonly log: string;
  readonly cwd?: string;
}

/** A started process, as recorded in the state file. */
export interface DaemonRecord {
  readonly name: string;
  readonly pid: number;
  readonly startTime: string;
  readonly log?: string;
}

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Field 2 (comm) is parenthesised and may contain spaces or parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); starttime is field 22, i.e. rest[19]. A zombie is not running.
  if (rest[0] === "Z") return undefined;
  return rest[19];
}

/** True when the recorded process (same PID and start time) is alive. */
export function isRunning(r: Pick<DaemonRecord, "pid" | "startTime">): boolean {
  return processStartTime(r.pid) === r.startTime;
}

/** Start a process detached from the CLI (new session), logging to `spec.log`. */
export function startDaemon(spec: DaemonSpec): DaemonRecord {
  const fd = openSync(spec.log, "a", 0o600);
  let pid: number | undefined;
  try {
    const [cmd, ...args] = spec.argv;
    if (cmd === undefined)
      throw new MiniError("START_FAILED", `Cannot start ${spec.name}`, { expected: "a command" });
    const child = spawn(cmd, args, {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...spec.env },
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
    });
    child.on("error", () => undefined); // reported below through the missing PID / start time
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  const startTime = pid === undefined ? undefined : processStartTime(pid);
  if (pid === undefined || startTime === undefined) {
    // It exited at once (or never started): its log says why.
    throw new MiniError("START_FAILED", `Cannot start ${spec.name} (${spec.argv[0]})`, {
      actual: `exited at once; see ${spec.log}: ${logTail(spec.log, 3) || "no output"}`,
    });
  }
  return { name: spec.name, pid, startTime, log: spec.log };
}

/** How long a process may take to exit after SIGTERM before it gets SIGKILL. */
export const STOP_GRACE_MS = 5000;

/**
 * Stop a recorded process and its process group: SIGTERM, then SIGKILL after `graceMs`. Does nothing
 * when the PID now belongs to another process. Returns what happened.
 */
export async function stopDaemon(
  r: DaemonRecord,
  graceMs = STOP_GRACE_MS,
): Promise<"not-running" | "stopped" | "killed"> {
  if (!isRunning(r)) return "not-running";
  const signal = (sig: NodeJS.Signals) => {
    try {
      // The daemon leads its own process group (setsid): signal the group, so helpers it spawned go too.
      process.kill(-r.pid, sig);
    } catch {
      try {
        process.kill(r.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(r)) return "stopped";
    await Bun.sleep(25);
  }
  if (!isRunning(r)) return "stopped";
  signal("SIGKILL");
  for (let i = 0; i < 200 && isRunning(r); i++) await Bun.sleep(10);
  return "killed";
}

/** The last `lines` lines of a log file, for error messages (never the whole file). */
export function logTail(path: string | undefined, lines = 5): string {
  if (!path) return "";
  try {
    const text = readFileSync(path, "utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}
