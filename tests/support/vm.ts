/**
 * TEST-ONLY: what the VM tests (tests/vm/*.test.ts) share: their gate, building the node image,
 * and the one-byte command-line change that must be caught by the measurements.
 */
import { closeSync, copyFileSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@asterism/testing";

/** Image build tools (scripts/apt-packages.txt) and the VM tools. */
const TOOLS = [
  "mmdebstrap",
  "mksquashfs",
  "veritysetup",
  "mkfs.vfat",
  "mcopy",
  "sfdisk",
  "objcopy",
  "qemu-system-x86_64",
  "swtpm",
  "socat",
];

/**
 * On wherever they can run (ASTERISM_VM_TESTS=0 turns them off): a cold run builds the image from Debian
 * packages and boots VMs under software emulation (this host's KVM is PVM and cannot run OVMF), about
 * 10 minutes in all. Needs /dev/kvm, root (mmdebstrap) and the tools above — all of which
 * `scripts/setup.sh` installs on a machine of this kind, so CI runs them.
 */
export const canRunVmTests =
  process.env["ASTERISM_VM_TESTS"] !== "0" &&
  existsSync("/dev/kvm") &&
  process.getuid?.() === 0 &&
  existsSync("/usr/lib/systemd/boot/efi/linuxx64.efi.stub") &&
  existsSync("/usr/share/OVMF/OVMF_CODE_4M.fd") &&
  TOOLS.every((t) => Bun.which(t) !== null);

/** The image `bun image/build.ts` writes. */
export const NODE_IMAGE = join(repoRoot, "dist", "image", "asterism-node.raw");

/** The binaries the image carries. */
const SERVICES = ["bootstrapper", "join-service", "kms", "verification-service"];

/** Run a build step in the checkout, its output shown; throws on a non-zero exit. */
export function sh(argv: string[]): void {
  const p = Bun.spawnSync(argv, { cwd: repoRoot, stdout: "inherit", stderr: "inherit" });
  if (p.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (exit ${p.exitCode})`);
}

/**
 * The service binaries (always: a stale binary would test old code; `bun build --compile` is
 * deterministic for one checkout, so an unchanged service leaves the image's input hash as it was),
 * then the image (cached by its inputs).
 */
export function buildNodeImage(): void {
  sh(["bun", "scripts/build.ts", ...SERVICES]);
  sh(["bun", "image/build.ts"]);
}

/** Change `panic=30` to `panic=31` in the UKI on the ESP: one byte of the `.cmdline` section. */
export function tamperCmdline(src: string, dst: string): void {
  copyFileSync(src, dst);
  const bytes = readFileSync(dst);
  const needle = Buffer.from("console=ttyS0 panic=30 ");
  const at = bytes.indexOf(needle);
  if (at <= 0 || bytes.indexOf(needle, at + 1) !== -1)
    throw new Error(`expected exactly one "${needle.toString().trim()}" in ${src}`);
  const fd = openSync(dst, "r+");
  try {
    writeSync(fd, Buffer.from("1"), 0, 1, at + needle.length - 2);
  } finally {
    closeSync(fd);
  }
}
