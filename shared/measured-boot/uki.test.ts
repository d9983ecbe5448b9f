import { describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { authenticodeSha256 } from "./authenticode.ts";
import { MeasuredBootError } from "./errors.ts";
import { extend, sha256 } from "./pcr.ts";
import { precomputeImageMeasurements } from "./policy.ts";
import { buildTestPe } from "./test-pe.ts";
import { measureUki } from "./uki.ts";

const te = new TextEncoder();
const kernel = buildTestPe([{ name: ".text", data: new Uint8Array(300).fill(0x90) }]).bytes;
const initrd = new Uint8Array(1000).fill(0x42);
const cmdline = "console=ttyS0 ro root=/dev/mapper/root";
const osrel = 'ID=debian\nVERSION_ID="12"\n';

function uki(cmd = cmdline) {
  return buildTestPe([
    { name: ".text", data: new Uint8Array(64).fill(0xcc) },
    { name: ".osrel", data: te.encode(osrel) },
    { name: ".cmdline", data: te.encode(cmd) },
    { name: ".initrd", data: initrd },
    { name: ".linux", data: kernel },
  ]).bytes;
}

const fold = (digests: Uint8Array[]) => digests.reduce((pcr, d) => extend(pcr, d), new Uint8Array(32));

describe("measureUki", () => {
  const image = uki();
  const m = measureUki(image);

  test("PCR 4: boot-option action, separator, the UKI and the kernel it loads (Authenticode)", () => {
    expect(m.pcrs.get(4)).toEqual(
      fold([
        sha256("Calling EFI Application from Boot Option"),
        sha256(new Uint8Array(4)),
        authenticodeSha256(image),
        authenticodeSha256(kernel),
      ]),
    );
  });

  test("PCR 11: section name with NUL, then section bytes, in systemd-stub's order", () => {
    const parts = [
      [".linux", kernel],
      [".osrel", te.encode(osrel)],
      [".cmdline", te.encode(cmdline)],
      [".initrd", initrd],
    ] as const;
    expect(m.pcrs.get(11)).toEqual(fold(parts.flatMap(([n, d]) => [sha256(`${n}\0`), sha256(d)])));
  });

  test("PCR 9: UTF-16 load options with NUL, then the initrd", () => {
    const u16 = new Uint8Array(Buffer.from(`${cmdline}\0`, "utf16le"));
    expect(m.pcrs.get(9)).toEqual(fold([sha256(u16), sha256(initrd)]));
  });

  test("PCR 8, 12, 13, 15 are zero", () => {
    for (const p of [8, 12, 13, 15]) expect(m.pcrs.get(p)).toEqual(new Uint8Array(32));
  });

  test("one byte of the command line changes PCR 4, 9 and 11 and nothing else", () => {
    const other = measureUki(uki(cmdline.replace("ttyS0", "ttyS1")));
    const changed = [...m.pcrs.keys()].filter((p) => toHex(m.pcrs.get(p)!) !== toHex(other.pcrs.get(p)!));
    expect(changed).toEqual([4, 9, 11]);
  });

  test("policy JSON: decimal keys, enforced entries", () => {
    const policy = precomputeImageMeasurements(image).measurements;
    expect(Object.keys(policy)).toEqual(["4", "8", "9", "11", "12", "13", "15"]);
    expect(policy["11"]).toEqual({ expected: toHex(m.pcrs.get(11)!), warnOnly: false });
  });

  const bad: [string, Uint8Array][] = [
    ["no .linux section", buildTestPe([{ name: ".cmdline", data: te.encode("x") }]).bytes],
    ["no .cmdline section", buildTestPe([{ name: ".linux", data: kernel }]).bytes],
    [
      "two .cmdline sections",
      buildTestPe([
        { name: ".linux", data: kernel },
        { name: ".cmdline", data: te.encode("a") },
        { name: ".cmdline", data: te.encode("b") },
      ]).bytes,
    ],
    ["a non-ASCII command line", uki("console=ttyS0 ro é")],
  ];
  for (const [name, bytes] of bad) {
    test(`rejects ${name} with NOT_A_UKI`, () => {
      expect(() => measureUki(bytes)).toThrow(MeasuredBootError);
      try {
        measureUki(bytes);
      } catch (err) {
        expect((err as MeasuredBootError).code).toBe("NOT_A_UKI");
      }
    });
  }
});
