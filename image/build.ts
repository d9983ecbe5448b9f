#!/usr/bin/env bun
/**
 * Build the Asterism node image from Debian packages only (see image/README.md):
 *
 *   bun image/build.ts [--out DIR] [--bin-dir DIR] [--force] [--reuse-root]
 *
 * Outputs in DIR (default dist/image): asterism-node.raw (GPT disk: ESP with the UKI at the removable
 * media boot path, squashfs root, dm-verity hash tree), asterism-node.efi (the UKI), manifest.json
 * (package versions, hashes, root hash, command line). The build is skipped when inputs.sha256 in DIR
 * matches the inputs (image definition, the service binaries, apt sources, stub, SOURCE_DATE_EPOCH).
 * The service binaries (bootstrapper, join-service, kms, verification-service) come from `--bin-dir`
 * (default dist/, `bun scripts/build.ts`).
 * Needs root (mmdebstrap --mode=root) and: mmdebstrap squashfs-tools cryptsetup-bin dosfstools mtools
 * fdisk binutils systemd-boot-efi.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { toHex } from "@asterism/bytes";
import { parsePe } from "@asterism/measured-boot";
import { guestEnvironment, renderEnvironmentFile } from "./guest-env.ts";

const repo = resolve(import.meta.dir, "..");
const { values: opts } = parseArgs({
  options: {
    out: { type: "string", default: join(repo, "dist", "image") },
    "bin-dir": { type: "string", default: join(repo, "dist") },
    force: { type: "boolean", default: false },
    /**
     * Development: reuse the package root (<out>/.work/root) of an earlier run instead of running mmdebstrap,
     * and keep it afterwards. Only image/packages.txt and the initramfs hooks need a fresh root; the
     * overlay, binaries, env files and units are applied on every build.
     */
    "reuse-root": { type: "boolean", default: false },
  },
});
const out = resolve(opts.out);
const binDir = resolve(opts["bin-dir"]);

/** The compiled services in the image, each at /usr/lib/asterism/<name> (`bun scripts/build.ts`). */
const SERVICE_BINARIES = ["bootstrapper", "join-service", "kms", "verification-service"] as const;
/** Units enabled in the image (kms and join-service start only where their env file exists). */
const ENABLED_UNITS = [
  "asterism-boot-report.service",
  "asterism-bootstrapper.service",
  "asterism-verification-service.service",
  "asterism-kms.service",
  "asterism-join-service.service",
  "systemd-networkd.service",
];

/** 2025-11-25T00:00:00Z unless the caller pins another epoch. */
const SOURCE_DATE_EPOCH = Number(process.env.SOURCE_DATE_EPOCH ?? "1764028800");
const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
const MiB = 1024 * 1024;
const SECTOR = 512;

// GPT partition type GUIDs (UEFI 2.10 §5.3.3; Discoverable Partitions Specification for x86-64 root).
const TYPE_ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const TYPE_ROOT_X86_64 = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";
const TYPE_ROOT_VERITY_X86_64 = "2C7357ED-EBD2-46D9-AEC8-6E3BA8C5BC8E";

function log(msg: string): void {
  process.stderr.write(`[image] ${msg}\n`);
}

function run(argv: string[], env: Record<string, string | undefined> = {}, stdin?: string): string {
  const t0 = performance.now();
  const fullEnv: Record<string, string | undefined> = {
    ...process.env,
    SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH),
    LC_ALL: "C.UTF-8",
    ...env,
  };
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const p = Bun.spawnSync(argv, {
    env: fullEnv,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (p.exitCode !== 0) {
    const err = p.stderr.toString();
    throw new Error(`${argv[0]} failed (exit ${p.exitCode}):\n${err.slice(-4000)}`);
  }
  const s = Math.round((performance.now() - t0) / 100) / 10;
  if (s > 2) log(`${argv[0]} took ${s} s`);
  return p.stdout.toString();
}

function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A UUID string from 16 bytes (as systemd-repart derives verity partition UUIDs from the root hash). */
function uuidFrom(b: Uint8Array): string {
  const h = toHex(b.subarray(0, 16));
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function listFiles(dir: string): string[] {
  const outList: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else outList.push(p);
    }
  };
  walk(dir);
  return outList;
}

/** The apt source files of this machine, as mmdebstrap mirror arguments (never a hard-coded host). */
function aptSources(): string[] {
  const files: string[] = [];
  const main = "/etc/apt/sources.list";
  if (existsSync(main) && /^\s*deb\s/m.test(readFileSync(main, "utf8"))) files.push(main);
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) {
      if (f.endsWith(".sources") || f.endsWith(".list")) files.push(join(dir, f));
    }
  }
  if (files.length === 0) throw new Error("no apt sources configured on this machine");
  return files;
}

function suite(): string {
  const m = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync("/etc/os-release", "utf8"));
  if (!m?.[1]) throw new Error("cannot read VERSION_CODENAME from /etc/os-release");
  return m[1];
}

function packages(): string[] {
  return readFileSync(join(import.meta.dir, "packages.txt"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Everything the output depends on that we control; the build is skipped if this is unchanged. */
function inputsKey(sources: string[]): string {
  const h = createHash("sha256");
  const add = (label: string, data: Uint8Array | string) => h.update(`${label}\0${sha256(data)}\n`);
  add("SOURCE_DATE_EPOCH", String(SOURCE_DATE_EPOCH));
  add("suite", suite());
  for (const f of listFiles(import.meta.dir)) {
    const rel = relative(import.meta.dir, f);
    if (rel.endsWith(".test.ts") || rel === "README.md" || rel === "vm.ts") continue;
    add(`${rel}:${(statSync(f).mode & 0o777).toString(8)}`, readFileSync(f));
  }
  for (const b of SERVICE_BINARIES) add(`bin/${b}`, readFileSync(join(binDir, b)));
  add("stub", readFileSync(STUB));
  for (const s of sources) add(s, readFileSync(s));
  return h.digest("hex");
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Units masked in the image (no login anywhere; see README "Services"). */
const MASKED_UNITS = [
  "getty.target",
  "getty@.service",
  "serial-getty@.service",
  "console-getty.service",
  "emergency.service",
  "rescue.service",
  "debug-shell.service",
  // systemd 252 userspace PCR 11 phase measurements: masked so PCR 11 holds the UKI alone (README).
  "systemd-pcrphase.service",
  "systemd-pcrphase-sysinit.service",
  "systemd-pcrphase-initrd.service",
  // Package maintenance timers: nothing to update on a read-only root, and no network to do it with.
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "dpkg-db-backup.timer",
  "e2scrub_all.timer",
];

/**
 * The package root: mmdebstrap (minbase + image/packages.txt) and what depends on packages only: the
 * initramfs (with our verity hook from the overlay), root's locked password, an empty machine-id.
 */
function buildRoot(work: string, sources: string[]): string {
  const rootDir = join(work, "root");
  const overlay = join(import.meta.dir, "rootfs");
  const q = shellQuote;
  const hooks = [
    `cp -a ${q(`${overlay}/.`)} "$1"/`,
    // Root has no password ("*") in a fresh Debian; lock it explicitly so that stays true.
    `chroot "$1" passwd -l root`,
    `chroot "$1" update-initramfs -u -k all`,
    // An empty machine-id makes systemd generate one per boot on a read-only /etc.
    `: > "$1"/etc/machine-id`,
  ];
  const argv = [
    "mmdebstrap",
    "--mode=root",
    "--variant=minbase",
    "--format=directory",
    "--quiet",
    `--include=${packages().join(",")}`,
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    "--dpkgopt=path-exclude=/usr/share/info/*",
    ...hooks.map((h) => `--customize-hook=${h}`),
    suite(),
    rootDir,
    ...sources,
  ];
  log("mmdebstrap (minutes)…");
  run(argv);
  return rootDir;
}

/**
 * What Asterism adds to the package root, on every build (also with --reuse-root): the overlay (units,
 * modules-load.d, boot report …), the service binaries, the env files generated from @asterism/node-vm's
 * constants (guest-env.ts), enabled and masked units.
 */
function customizeRoot(rootDir: string): void {
  const overlay = join(import.meta.dir, "rootfs");
  run(["cp", "-a", `${overlay}/.`, `${rootDir}/`]);
  for (const b of SERVICE_BINARIES)
    run(["install", "-D", "-m", "0755", join(binDir, b), join(rootDir, "usr", "lib", "asterism", b)]);
  const etc = join(rootDir, "etc", "asterism");
  mkdirSync(etc, { recursive: true, mode: 0o755 });
  for (const [name, vars] of Object.entries(guestEnvironment()))
    writeFileSync(join(etc, `${name}.env`), renderEnvironmentFile(vars), { mode: 0o644 });
  run(["chroot", rootDir, "systemctl", "enable", ...ENABLED_UNITS]);
  run(["chroot", rootDir, "systemctl", "mask", ...MASKED_UNITS]);
  run(["chroot", rootDir, "systemctl", "set-default", "multi-user.target"]);
}

interface Manifest {
  readonly format: "asterism-node-image/v1";
  readonly sourceDateEpoch: number;
  readonly inputs: string;
  readonly suite: string;
  readonly kernel: string;
  readonly packages: readonly { name: string; version: string; arch: string }[];
  readonly cmdline: string;
  readonly rootHash: string;
  readonly files: Record<string, { sha256: string; size: number }>;
}

function dpkgManifest(rootDir: string): Manifest["packages"] {
  const lines = run([
    "dpkg-query",
    `--admindir=${rootDir}/var/lib/dpkg`,
    "-W",
    "-f",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format, not a template
    "${Package}\t${Version}\t${Architecture}\n",
  ]);
  return lines
    .trim()
    .split("\n")
    .map((l) => {
      const [name = "", version = "", arch = ""] = l.split("\t");
      return { name, version, arch };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Assemble the UKI: systemd-stub + .osrel, .cmdline, .initrd, .linux (objcopy, as ukify would). */
function buildUki(work: string, osrel: string, cmdline: string, initrd: string, kernel: string): string {
  const stub = parsePe(readFileSync(STUB));
  const align = stub.sectionAlignment;
  let end = 0;
  for (const s of stub.sections) end = Math.max(end, s.virtualAddress + s.virtualSize);
  const next = (size: number) => {
    const at = Math.ceil(end / align) * align;
    end = at + size;
    return `0x${(stub.imageBase + BigInt(at)).toString(16)}`;
  };
  const cmdlineFile = join(work, "cmdline");
  const osrelFile = join(work, "os-release");
  writeFileSync(cmdlineFile, cmdline);
  writeFileSync(osrelFile, osrel);
  const uki = join(work, "asterism-node.efi");
  const sections: [string, string][] = [
    [".osrel", osrelFile],
    [".cmdline", cmdlineFile],
    [".initrd", initrd],
    [".linux", kernel],
  ];
  const argv = ["objcopy"];
  for (const [name, file] of sections) {
    argv.push(
      "--add-section",
      `${name}=${file}`,
      "--change-section-vma",
      `${name}=${next(statSync(file).size)}`,
    );
  }
  argv.push(STUB, uki);
  run(argv);
  pinPeTimestamp(uki);
  return uki;
}

/**
 * objcopy stamps the output's COFF TimeDateStamp with the current time (binutils 2.40 ignores
 * SOURCE_DATE_EPOCH there), and the stamp is part of the Authenticode hash, so PCR 4 would change per
 * build. Set it to SOURCE_DATE_EPOCH and recompute the optional header CheckSum (PE/COFF §3.4.2).
 */
function pinPeTimestamp(file: string): void {
  const b = new Uint8Array(readFileSync(file));
  const pe = parsePe(b);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  // COFF header: 4-byte signature, Machine(2), NumberOfSections(2), TimeDateStamp(4); the optional
  // header follows the 24-byte COFF header and CheckSum sits at its offset 64.
  const timeDateStamp = pe.checkSumOffset - 64 - 24 + 8;
  dv.setUint32(timeDateStamp, SOURCE_DATE_EPOCH >>> 0, true);
  dv.setUint32(pe.checkSumOffset, peChecksum(b, pe.checkSumOffset), true);
  writeFileSync(file, b);
}

/** The PE image checksum: 16-bit one's-complement-style sum of the file without CheckSum, plus its length. */
export function peChecksum(b: Uint8Array, checkSumOffset: number): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) {
    if (i === checkSumOffset || i === checkSumOffset + 2) continue;
    sum += b[i]! | ((b[i + 1] ?? 0) << 8);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + b.length) >>> 0;
}

function buildEsp(work: string, uki: string): string {
  const esp = join(work, "esp.img");
  const size = Math.max(64, Math.ceil((statSync(uki).size + 8 * MiB) / MiB)) * MiB;
  utimesSync(uki, SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH);
  rmSync(esp, { force: true });
  run(["mkfs.vfat", "--invariant", "-i", "41535452", "-n", "ASTERISMESP", "-C", esp, String(size / 1024)]);
  run(["mmd", "-i", esp, "::/EFI", "::/EFI/BOOT"]);
  run(["mcopy", "-m", "-i", esp, uki, "::/EFI/BOOT/BOOTX64.EFI"]);
  return esp;
}

function writeAt(fd: number, file: string, offset: number): void {
  const data = readFileSync(file);
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, offset + done);
}

function assembleDisk(work: string, esp: string, sqfs: string, verity: string, rootHash: Uint8Array): string {
  const raw = join(work, "asterism-node.raw");
  const align = (n: number) => Math.ceil(n / MiB) * MiB;
  const espSize = statSync(esp).size;
  const rootSize = align(statSync(sqfs).size);
  const veritySize = align(statSync(verity).size);
  const espAt = MiB;
  const rootAt = espAt + espSize;
  const verityAt = rootAt + rootSize;
  const total = verityAt + veritySize + MiB;
  writeFileSync(raw, "");
  const fd0 = openSync(raw, "r+");
  try {
    writeSync(fd0, new Uint8Array(1), 0, 1, total - 1);
  } finally {
    closeSync(fd0);
  }
  const labelId = uuidFrom(createHash("sha256").update("asterism-node-disk").update(rootHash).digest());
  const espUuid = uuidFrom(createHash("sha256").update("asterism-node-esp").update(rootHash).digest());
  const part = (at: number, size: number, type: string, uuid: string, name: string) =>
    `start=${at / SECTOR}, size=${size / SECTOR}, type=${type}, uuid=${uuid}, name="${name}"`;
  const script = [
    "label: gpt",
    `label-id: ${labelId}`,
    "unit: sectors",
    "first-lba: 2048",
    part(espAt, espSize, TYPE_ESP, espUuid, "esp"),
    part(rootAt, rootSize, TYPE_ROOT_X86_64, uuidFrom(rootHash.subarray(0, 16)), "root-x86-64"),
    part(
      verityAt,
      veritySize,
      TYPE_ROOT_VERITY_X86_64,
      uuidFrom(rootHash.subarray(16, 32)),
      "root-x86-64-verity",
    ),
    "",
  ].join("\n");
  run(["sfdisk", "--no-reread", "--no-tell-kernel", "--quiet", raw], {}, script);
  const fd = openSync(raw, "r+");
  try {
    writeAt(fd, esp, espAt);
    writeAt(fd, sqfs, rootAt);
    writeAt(fd, verity, verityAt);
  } finally {
    closeSync(fd);
  }
  return raw;
}

async function main(): Promise<void> {
  const missing = SERVICE_BINARIES.filter((b) => !existsSync(join(binDir, b)));
  if (missing.length > 0)
    throw new Error(
      `${missing.map((b) => join(binDir, b)).join(", ")} missing: run \`bun scripts/build.ts ${missing.join(" ")}\``,
    );
  const sources = aptSources();
  const key = inputsKey(sources);
  const keyFile = join(out, "inputs.sha256");
  if (
    !opts.force &&
    existsSync(keyFile) &&
    readFileSync(keyFile, "utf8").trim() === key &&
    existsSync(join(out, "asterism-node.raw")) &&
    existsSync(join(out, "manifest.json"))
  ) {
    log(`up to date (inputs ${key.slice(0, 16)}…): ${out}`);
    return;
  }
  const work = join(out, ".work");
  const reuse = opts["reuse-root"] === true && existsSync(join(work, "root", "etc", "os-release"));
  if (!reuse) rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const t0 = performance.now();

  const rootDir = reuse ? join(work, "root") : buildRoot(work, sources);
  if (reuse) log("reusing the package root of an earlier build (--reuse-root)");
  customizeRoot(rootDir);
  const kernels = readdirSync(join(rootDir, "boot")).filter((f) => f.startsWith("vmlinuz-"));
  if (kernels.length !== 1) throw new Error(`expected one kernel in /boot, found ${kernels.join(", ")}`);
  const kver = kernels[0]!.slice("vmlinuz-".length);
  const kernel = join(work, "vmlinuz");
  const initrd = join(work, "initrd");
  copyFileSync(join(rootDir, "boot", `vmlinuz-${kver}`), kernel);
  copyFileSync(join(rootDir, "boot", `initrd.img-${kver}`), initrd);
  const pkgs = dpkgManifest(rootDir);
  const osrel = readFileSync(join(rootDir, "etc", "os-release"), "utf8");

  log("mksquashfs…");
  const sqfs = join(work, "root.sqfs");
  run(
    [
      "mksquashfs",
      rootDir,
      sqfs,
      "-noappend",
      "-quiet",
      "-no-progress",
      "-comp",
      "zstd",
      // mksquashfs' default zstd level 15 costs minutes on a shared CI machine for a few % of size.
      "-Xcompression-level",
      "6",
      "-mkfs-time",
      String(SOURCE_DATE_EPOCH),
      "-all-time",
      String(SOURCE_DATE_EPOCH),
      "-wildcards",
      "-e",
      "boot/*",
      "var/*",
      "dev/*",
      "proc/*",
      "sys/*",
      "run/*",
      "tmp/*",
    ],
    { SOURCE_DATE_EPOCH: undefined },
  ); // mksquashfs refuses the variable together with explicit times

  log("veritysetup format…");
  const verity = join(work, "root.verity");
  const rootHashFile = join(work, "roothash");
  const sqfsDigest = createHash("sha256").update(readFileSync(sqfs)).digest();
  run([
    "veritysetup",
    "format",
    sqfs,
    verity,
    `--salt=${toHex(sqfsDigest)}`,
    `--uuid=${uuidFrom(sqfsDigest)}`,
    `--root-hash-file=${rootHashFile}`,
  ]);
  const rootHashHex = readFileSync(rootHashFile, "utf8").trim();
  const rootHash = Uint8Array.from(Buffer.from(rootHashHex, "hex"));
  if (rootHash.length !== 32) throw new Error(`unexpected root hash ${rootHashHex}`);

  const cmdline = [
    "console=ttyS0",
    "panic=30",
    // No automatic ESP mount from systemd-gpt-auto-generator: nothing on the node reads the ESP.
    "systemd.gpt_auto=0",
    "ro",
    "root=/dev/mapper/root",
    "rootfstype=squashfs",
    `asterism.verity.data=PARTUUID=${uuidFrom(rootHash.subarray(0, 16))}`,
    `asterism.verity.hash=PARTUUID=${uuidFrom(rootHash.subarray(16, 32))}`,
    `asterism.verity.roothash=${rootHashHex}`,
  ].join(" ");

  log("UKI, ESP, disk…");
  const uki = buildUki(work, osrel, cmdline, initrd, kernel);
  const esp = buildEsp(work, uki);
  const raw = assembleDisk(work, esp, sqfs, verity, rootHash);

  mkdirSync(out, { recursive: true });
  const files: Manifest["files"] = {};
  for (const [name, src] of [
    ["asterism-node.raw", raw],
    ["asterism-node.efi", uki],
  ] as const) {
    const data = readFileSync(src);
    files[name] = { sha256: sha256(data), size: data.length };
    rmSync(join(out, name), { force: true });
    copyFileSync(src, join(out, name));
  }
  for (const [name, src] of [
    ["root.sqfs", sqfs],
    ["initrd", initrd],
    ["vmlinuz", kernel],
  ] as const) {
    const data = readFileSync(src);
    files[name] = { sha256: sha256(data), size: data.length };
  }
  const manifest: Manifest = {
    format: "asterism-node-image/v1",
    sourceDateEpoch: SOURCE_DATE_EPOCH,
    inputs: key,
    suite: suite(),
    kernel: kver,
    packages: pkgs,
    cmdline,
    rootHash: rootHashHex,
    files,
  };
  writeFileSync(join(out, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(keyFile, `${key}\n`);
  if (opts["reuse-root"] === true) {
    // Keep the package root for the next --reuse-root build; drop the rest.
    for (const e of readdirSync(work))
      if (e !== "root") rmSync(join(work, e), { recursive: true, force: true });
  } else rmSync(work, { recursive: true, force: true });
  log(`built ${out} in ${Math.round((performance.now() - t0) / 1000)} s (root hash ${rootHashHex})`);
}

if (import.meta.main) await main();
