import { mkdir } from "node:fs/promises";
import type { Logger } from "@asterism/service";
import { BootstrapperError } from "./errors.ts";

/** Runs a system command (mkfs.ext4, mount, blkid, findmnt). Injected: tests record the calls instead. */
export interface CommandRunner {
  run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** The real thing: spawns `argv`, no stdin, collects both outputs. */
export function systemCommands(): CommandRunner {
  return {
    async run(argv) {
      const p = Bun.spawn([...argv], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([
        new Response(p.stdout).text(),
        new Response(p.stderr).text(),
        p.exited,
      ]);
      return { code, stdout, stderr };
    },
  };
}

/** The file system label of the state disk's ext4 (informational: we never mount by label). */
export const STATE_FS_LABEL = "asterism-state";

/**
 * `blkid -p` exit status when it found nothing on the device (util-linux blkid(8), RETURN CODE 2):
 * the only answer that lets us make a file system.
 */
const BLKID_NOTHING_FOUND = 2;

/** Why the state file system is being prepared. */
export type MountReason = "first-activation" | "unlock";

/**
 * The file system of the mapped state disk, mounted at `mountPoint` (`ASTERISM_STATE_MOUNT`): everything a
 * node keeps across reboots lives under it.
 *
 * - First activation (init, join): the mapping is new; when `blkid -p` finds nothing on it, `mkfs.ext4`
 *   makes the file system. Anything it does find (ext4 of a restarted activation, or any other signature)
 *   is never formatted over.
 * - Unlock (rejoin, recovery): the file system must be there; it is only mounted. A mapping without one is
 *   refused (`STATE_FS_INVALID`), never formatted: rejoin must not turn into a silent wipe.
 *
 * Mounted `nodev,nosuid,noexec` (nothing on the state disk is a device or a program). A mount point that
 * already shows this device (the bootstrapper restarted) is left as it is; one that shows anything else
 * is refused.
 */
export function createStateMount(deps: {
  readonly commands: CommandRunner;
  readonly mountPoint: string;
  readonly logger: Logger;
}) {
  const { commands, mountPoint } = deps;
  const log = deps.logger.child({ component: "state-mount" });

  const fail = (what: string, r: { code: number; stderr: string }, expected?: string) =>
    new BootstrapperError("STATE_MOUNT_FAILED", `Cannot ${what}`, {
      ...(expected ? { expected } : {}),
      actual: `exit ${r.code}: ${r.stderr.trim().slice(0, 300)}`,
    });

  /** The source mounted at the mount point, or undefined when nothing is. */
  const mountedSource = async (): Promise<string | undefined> => {
    const r = await commands.run([
      "findmnt",
      "--noheadings",
      "--raw",
      "--output",
      "SOURCE",
      "--mountpoint",
      mountPoint,
    ]);
    if (r.code !== 0) return undefined; // findmnt(8): 1 = nothing mounted there
    return r.stdout.trim() || undefined;
  };

  /** The file system type on `device` per `blkid -p` (low-level probe, no cache), or undefined for none. */
  const probe = async (device: string): Promise<string | undefined> => {
    const r = await commands.run(["blkid", "--probe", "--output", "value", "--match-tag", "TYPE", device]);
    if (r.code === BLKID_NOTHING_FOUND) return undefined;
    if (r.code !== 0) throw fail(`probe ${device}`, r, "blkid to identify the device or find nothing");
    const type = r.stdout.trim();
    // A signature without a TYPE (e.g. a partition table) is still something we must not format over.
    return type === "" ? "unknown signature" : type;
  };

  return {
    mountPoint,
    /**
     * Make sure `device` (the opened mapping) carries the node's ext4 and is mounted at the mount point.
     * Throws `STATE_MOUNT_FAILED` (a command failed) or `STATE_FS_INVALID` (not our file system).
     */
    async prepare(device: string, reason: MountReason): Promise<void> {
      const mounted = await mountedSource();
      if (mounted !== undefined) {
        if (mounted === device) {
          log.log("info", "state.already_mounted", { device, mountPoint });
          return;
        }
        throw new BootstrapperError("STATE_FS_INVALID", `Cannot mount ${device} at ${mountPoint}`, {
          expected: "nothing mounted there yet",
          actual: `${mounted} is mounted there`,
        });
      }
      let type = await probe(device);
      if (type === undefined) {
        if (reason !== "first-activation")
          throw new BootstrapperError("STATE_FS_INVALID", `Cannot mount ${device}`, {
            expected: "the ext4 file system made at the node's first activation",
            actual: "no file system (refusing to format on rejoin or recovery)",
          });
        const t0 = performance.now();
        const r = await commands.run(["mkfs.ext4", "-q", "-L", STATE_FS_LABEL, device]);
        if (r.code !== 0) throw fail(`make a file system on ${device}`, r);
        log.log("info", "state.formatted", { device, fs: "ext4", ms: Math.round(performance.now() - t0) });
        type = "ext4";
      }
      if (type !== "ext4")
        throw new BootstrapperError("STATE_FS_INVALID", `Cannot mount ${device}`, {
          expected: "ext4 (or nothing, on first activation)",
          actual: type,
        });
      await mkdir(mountPoint, { recursive: true, mode: 0o755 });
      const r = await commands.run(["mount", "-t", "ext4", "-o", "nodev,nosuid,noexec", device, mountPoint]);
      if (r.code !== 0) throw fail(`mount ${device} at ${mountPoint}`, r);
      log.log("info", "state.mounted", { device, mountPoint, reason });
    },
  };
}

export type StateMount = ReturnType<typeof createStateMount>;
