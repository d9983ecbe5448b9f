import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { MeasuredBootError } from "./errors.ts";
import { parsePe, sectionMemory } from "./pe.ts";
import { buildTestPe } from "./test-pe.ts";

const STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";

function expectCode(fn: () => unknown, code: MeasuredBootError["code"]): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MeasuredBootError);
    expect((err as MeasuredBootError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe("parsePe", () => {
  test("reads sections, alignment and the excluded header fields", () => {
    const pe = buildTestPe([
      { name: ".text", data: new Uint8Array(700).fill(1) },
      { name: ".cmdline", data: new TextEncoder().encode("console=ttyS0"), virtualSize: 20 },
    ]);
    const p = parsePe(pe.bytes);
    expect(p.imageBase).toBe(0x10000000n);
    expect(p.sectionAlignment).toBe(0x1000);
    expect(p.checkSumOffset).toBe(pe.checkSumOffset);
    expect(p.certDirEntryOffset).toBe(pe.certDirOffset);
    expect(p.certTable).toBeUndefined();
    expect(p.sections.map((s) => s.name)).toEqual([".text", ".cmdline"]);
    // VirtualSize beyond the raw data is zero-filled, shorter VirtualSize truncates the padding.
    const cmd = sectionMemory(pe.bytes, p.sections[1]!);
    expect(cmd.length).toBe(20);
    expect(new TextDecoder().decode(cmd.subarray(0, 13))).toBe("console=ttyS0");
    expect(cmd.subarray(13).every((b) => b === 0)).toBe(true);
  });

  test.if(existsSync(STUB))("parses Debian's systemd-stub", () => {
    const p = parsePe(new Uint8Array(readFileSync(STUB)));
    expect(p.sections.map((s) => s.name)).toContain(".sdmagic");
    expect(p.sectionAlignment).toBeGreaterThan(0);
  });

  const valid = buildTestPe([{ name: ".text", data: new Uint8Array(16) }]).bytes;
  const mutate = (f: (b: Uint8Array, dv: DataView) => void) => {
    const b = valid.slice();
    f(b, new DataView(b.buffer));
    return b;
  };
  const cases: [string, Uint8Array][] = [
    ["empty file", new Uint8Array(0)],
    ["no MZ magic", mutate((b) => b.set([0x4e], 0))],
    ["e_lfanew beyond the file", mutate((_, dv) => dv.setUint32(0x3c, 0x7fffffff, true))],
    ["no PE signature", mutate((b) => b.set([0], 0x80))],
    ["PE32 instead of PE32+", mutate((_, dv) => dv.setUint16(0x80 + 24, 0x10b, true))],
    ["zero sections", mutate((_, dv) => dv.setUint16(0x80 + 6, 0, true))],
    [
      "section raw data beyond the file",
      mutate((_, dv) => dv.setUint32(0x80 + 24 + 240 + 20, 0xffff0000, true)),
    ],
    [
      "certificate table beyond the file",
      mutate((_, dv) => dv.setUint32(0x80 + 24 + 112 + 36, 0x100000, true)),
    ],
    ["too many data directories", mutate((_, dv) => dv.setUint32(0x80 + 24 + 108, 17, true))],
  ];
  for (const [name, bytes] of cases) {
    test(`rejects ${name} with MALFORMED_PE`, () => expectCode(() => parsePe(bytes), "MALFORMED_PE"));
  }
});

test("rejects a VirtualSize far beyond the raw data (allocation bomb) with MALFORMED_PE", () => {
  const b = buildTestPe([{ name: ".text", data: new Uint8Array(16) }]).bytes;
  new DataView(b.buffer).setUint32(0x80 + 24 + 240 + 8, 0xfffffff0, true);
  expect(() => parsePe(b)).toThrow(MeasuredBootError);
});
