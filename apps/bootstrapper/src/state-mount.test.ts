// The state file system step with an injected command runner. mkfs.ext4 and mount cannot run here: the
// CI host has no device-mapper (so no /dev/mapper/state to format) and tests do not mount as root on a
// shared machine. The VM guest runs the real commands (image/README.md); these tests pin the decisions:
// what is formatted when, what is never formatted over, and what is refused.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAsterismError } from "@asterism/errors";
import { createMemoryLogger } from "@asterism/service";
import { type CommandRunner, createStateMount, type MountReason } from "./state-mount.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-state-mount-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DEVICE = "/dev/mapper/state";

type Answer = { code: number; stdout?: string; stderr?: string };

/** A runner answering by command name; records every argv. */
function recorder(answers: Partial<Record<string, Answer>>) {
  const calls: string[][] = [];
  const commands: CommandRunner = {
    async run(argv) {
      calls.push([...argv]);
      const a = answers[argv[0] ?? ""] ?? { code: 0 };
      return { code: a.code, stdout: a.stdout ?? "", stderr: a.stderr ?? "" };
    },
  };
  return { commands, calls, names: () => calls.map((c) => c[0]) };
}

const NOT_MOUNTED = { code: 1 };
const BLANK = { code: 2 };
const EXT4 = { code: 0, stdout: "ext4\n" };

async function prepare(answers: Partial<Record<string, Answer>>, reason: MountReason, name: string) {
  const r = recorder(answers);
  const mountPoint = join(dir, name);
  const logger = createMemoryLogger();
  const m = createStateMount({ commands: r.commands, mountPoint, logger });
  let code: string | undefined;
  try {
    await m.prepare(DEVICE, reason);
  } catch (err) {
    code = isAsterismError(err) ? err.code : String(err);
  }
  return { ...r, code, mountPoint, logger };
}

describe("state file system", () => {
  test("first activation of a blank mapping: mkfs.ext4 once, then mount nodev,nosuid,noexec", async () => {
    const t = await prepare({ findmnt: NOT_MOUNTED, blkid: BLANK }, "first-activation", "a");
    expect(t.code).toBeUndefined();
    expect(t.names()).toEqual(["findmnt", "blkid", "mkfs.ext4", "mount"]);
    expect(t.calls[1]).toEqual(["blkid", "--probe", "--output", "value", "--match-tag", "TYPE", DEVICE]);
    expect(t.calls[2]).toEqual(["mkfs.ext4", "-q", "-L", "asterism-state", DEVICE]);
    expect(t.calls[3]).toEqual(["mount", "-t", "ext4", "-o", "nodev,nosuid,noexec", DEVICE, t.mountPoint]);
    expect(existsSync(t.mountPoint)).toBe(true);
    expect(t.logger.lines.map((l) => l["msg"])).toEqual(["state.formatted", "state.mounted"]);
  });

  test("first activation finding ext4 (a restarted activation): mounted, never formatted over", async () => {
    const t = await prepare({ findmnt: NOT_MOUNTED, blkid: EXT4 }, "first-activation", "b");
    expect(t.code).toBeUndefined();
    expect(t.names()).toEqual(["findmnt", "blkid", "mount"]);
  });

  test("rejoin/recovery: the ext4 is only mounted", async () => {
    const t = await prepare({ findmnt: NOT_MOUNTED, blkid: EXT4 }, "unlock", "c");
    expect(t.code).toBeUndefined();
    expect(t.names()).toEqual(["findmnt", "blkid", "mount"]);
  });

  test.each([
    {
      name: "rejoin of a mapping without a file system: refused, not formatted",
      answers: { findmnt: NOT_MOUNTED, blkid: BLANK },
      reason: "unlock" as const,
      code: "STATE_FS_INVALID",
      mkfs: false,
    },
    {
      name: "another file system: never formatted over, never mounted",
      answers: { findmnt: NOT_MOUNTED, blkid: { code: 0, stdout: "xfs\n" } },
      reason: "first-activation" as const,
      code: "STATE_FS_INVALID",
      mkfs: false,
    },
    {
      name: "a signature without a type (e.g. a partition table): not formatted over",
      answers: { findmnt: NOT_MOUNTED, blkid: { code: 0, stdout: "" } },
      reason: "first-activation" as const,
      code: "STATE_FS_INVALID",
      mkfs: false,
    },
    {
      name: "blkid cannot probe: refused (no guessing)",
      answers: { findmnt: NOT_MOUNTED, blkid: { code: 4, stderr: "usage" } },
      reason: "first-activation" as const,
      code: "STATE_MOUNT_FAILED",
      mkfs: false,
    },
    {
      name: "the mount point shows another device",
      answers: { findmnt: { code: 0, stdout: "/dev/vdc\n" } },
      reason: "first-activation" as const,
      code: "STATE_FS_INVALID",
      mkfs: false,
    },
    {
      name: "mkfs.ext4 fails",
      answers: { findmnt: NOT_MOUNTED, blkid: BLANK, "mkfs.ext4": { code: 1, stderr: "no space" } },
      reason: "first-activation" as const,
      code: "STATE_MOUNT_FAILED",
      mkfs: true,
    },
    {
      name: "mount fails",
      answers: { findmnt: NOT_MOUNTED, blkid: EXT4, mount: { code: 32, stderr: "wrong fs type" } },
      reason: "unlock" as const,
      code: "STATE_MOUNT_FAILED",
      mkfs: false,
    },
  ])("$name", async ({ answers, reason, code, mkfs }) => {
    const t = await prepare(answers, reason, `x-${Math.random().toString(36).slice(2)}`);
    expect(t.code).toBe(code);
    expect(t.names().includes("mkfs.ext4")).toBe(mkfs);
  });

  test("already mounted from this device (the bootstrapper restarted): nothing to do", async () => {
    const t = await prepare({ findmnt: { code: 0, stdout: `${DEVICE}\n` } }, "unlock", "d");
    expect(t.code).toBeUndefined();
    expect(t.names()).toEqual(["findmnt"]);
  });
});
