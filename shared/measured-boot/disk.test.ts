import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findEsp, gptEventData, readFatFile, ukiFromDiskImage } from "./disk.ts";
import { MeasuredBootError } from "./errors.ts";

// A real GPT + FAT image made by the same tools the image build uses (sfdisk, mkfs.vfat, mtools).
const tools = ["sfdisk", "mkfs.vfat", "mcopy", "mmd"].every((t) => Bun.which(t) !== null);
let dir = "";
let disk = new Uint8Array(0);
const payload = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);

function sh(argv: string[], stdin?: string) {
  const p = Bun.spawnSync(argv, { stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin) });
  if (p.exitCode !== 0) throw new Error(`${argv[0]}: ${p.stderr.toString()}`);
}

function expectCode(fn: () => unknown, code: MeasuredBootError["code"]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MeasuredBootError);
  expect((caught as MeasuredBootError).code).toBe(code);
}

beforeAll(() => {
  if (!tools) return;
  dir = mkdtempSync(join(tmpdir(), "asterism-disk-"));
  const esp = join(dir, "esp.img");
  sh(["mkfs.vfat", "-C", esp, String(4 * 1024)]);
  sh(["mmd", "-i", esp, "::/EFI", "::/EFI/BOOT"]);
  writeFileSync(join(dir, "uki"), payload);
  sh(["mcopy", "-i", esp, join(dir, "uki"), "::/EFI/BOOT/BOOTX64.EFI"]);
  const raw = join(dir, "disk.raw");
  const img = new Uint8Array(8 * 1024 * 1024);
  writeFileSync(raw, img);
  sh(
    ["sfdisk", "--no-reread", "--no-tell-kernel", "--quiet", raw],
    "label: gpt\nstart=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\n",
  );
  disk = new Uint8Array(readFileSync(raw));
  disk.set(readFileSync(esp), 2048 * 512);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.if(tools)("UKI from a GPT disk image", () => {
  test("finds \\EFI\\BOOT\\BOOTX64.EFI on the ESP", () => {
    expect(ukiFromDiskImage(disk)).toEqual(payload);
  });

  test("UEFI_GPT_DATA: the 92-byte header, a UINT64 count, then the used entries", () => {
    const data = gptEventData(disk);
    expect(data.length).toBe(92 + 8 + 128);
    expect(data.subarray(0, 92)).toEqual(disk.subarray(512, 512 + 92));
    expect(new DataView(data.buffer).getBigUint64(92, true)).toBe(1n);
    expect(data.subarray(100)).toEqual(disk.subarray(1024, 1024 + 128));
  });

  test("a missing file is MALFORMED_DISK_IMAGE", () => {
    expectCode(() => readFatFile(findEsp(disk), ["EFI", "BOOT", "BOOTAA64.EFI"]), "MALFORMED_DISK_IMAGE");
  });

  test("a corrupted GPT header (CRC) is MALFORMED_DISK_IMAGE", () => {
    const d = disk.slice();
    d[512 + 40]! ^= 1;
    expectCode(() => findEsp(d), "MALFORMED_DISK_IMAGE");
  });

  test("a corrupted partition array (CRC) is MALFORMED_DISK_IMAGE", () => {
    const d = disk.slice();
    d[1024 + 40]! ^= 1;
    expectCode(() => findEsp(d), "MALFORMED_DISK_IMAGE");
  });

  test("no GPT at all is MALFORMED_DISK_IMAGE", () => {
    expectCode(() => ukiFromDiskImage(new Uint8Array(4096)), "MALFORMED_DISK_IMAGE");
  });
});
