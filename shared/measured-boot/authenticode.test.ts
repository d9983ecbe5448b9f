import { describe, expect, test } from "bun:test";
import { authenticodeSha256 } from "./authenticode.ts";
import { sha256 } from "./pcr.ts";
import { buildTestPe } from "./test-pe.ts";

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

describe("authenticodeSha256", () => {
  const sections = [
    { name: ".text", data: new Uint8Array(600).fill(0xaa) },
    { name: ".data", data: new Uint8Array(100).fill(0xbb) },
  ];

  test("hashes the spec's ranges: headers minus CheckSum and the certificate entry, then sections", () => {
    const pe = buildTestPe(sections, { checkSum: 0x1234 });
    const b = pe.bytes;
    const expected = sha256(
      concat(
        b.subarray(0, pe.checkSumOffset),
        b.subarray(pe.checkSumOffset + 4, pe.certDirOffset),
        b.subarray(pe.certDirOffset + 8, pe.sizeOfHeaders),
        b.subarray(pe.sectionOffsets[0]!, pe.sectionOffsets[1]!),
        b.subarray(pe.sectionOffsets[1]!),
      ),
    );
    expect(authenticodeSha256(b)).toEqual(expected);
  });

  test("ignores CheckSum and the attribute certificates, as a signature must", () => {
    const plain = authenticodeSha256(buildTestPe(sections).bytes);
    expect(authenticodeSha256(buildTestPe(sections, { checkSum: 0xdeadbeef }).bytes)).toEqual(plain);
    const signed = buildTestPe(sections, { cert: new Uint8Array(64).fill(7) }).bytes;
    expect(authenticodeSha256(signed)).toEqual(plain);
  });

  test("changes with one byte of section data", () => {
    const pe = buildTestPe(sections);
    const before = authenticodeSha256(pe.bytes);
    const b = pe.bytes.slice();
    b[pe.sectionOffsets[1]! + 5]! ^= 1;
    expect(authenticodeSha256(b)).not.toEqual(before);
  });

  test("covers data appended after the last section", () => {
    const pe = buildTestPe(sections);
    const extended = concat(pe.bytes, new Uint8Array([1, 2, 3]));
    expect(authenticodeSha256(extended)).toEqual(
      sha256(
        concat(
          pe.bytes.subarray(0, pe.checkSumOffset),
          pe.bytes.subarray(pe.checkSumOffset + 4, pe.certDirOffset),
          pe.bytes.subarray(pe.certDirOffset + 8),
          new Uint8Array([1, 2, 3]),
        ),
      ),
    );
  });
});
