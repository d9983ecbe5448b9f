/**
 * Synthetic PE32+ images for tests: DOS header, PE signature, COFF header, optional header with 16 data
 * directories, section table, section data at FileAlignment 0x200, and an optional attribute
 * certificate table at the end. Not exported from the module.
 */
export interface TestSection {
  readonly name: string;
  readonly data: Uint8Array;
  /** Defaults to data.length. */
  readonly virtualSize?: number;
}

const FILE_ALIGN = 0x200;
const SECTION_ALIGN = 0x1000;

export interface TestPe {
  readonly bytes: Uint8Array;
  readonly checkSumOffset: number;
  readonly certDirOffset: number;
  readonly sizeOfHeaders: number;
  readonly sectionOffsets: readonly number[];
}

export function buildTestPe(
  sections: readonly TestSection[],
  opts: { cert?: Uint8Array; checkSum?: number } = {},
): TestPe {
  const lfanew = 0x80;
  const optSize = 112 + 16 * 8;
  const secTable = lfanew + 24 + optSize;
  const sizeOfHeaders = Math.ceil((secTable + sections.length * 40) / FILE_ALIGN) * FILE_ALIGN;
  const sectionOffsets: number[] = [];
  let off = sizeOfHeaders;
  for (const s of sections) {
    sectionOffsets.push(off);
    off += Math.ceil(s.data.length / FILE_ALIGN) * FILE_ALIGN;
  }
  const certAt = off;
  const total = off + (opts.cert?.length ?? 0);
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0x5a4d, true);
  dv.setUint32(0x3c, lfanew, true);
  dv.setUint32(lfanew, 0x00004550, true);
  dv.setUint16(lfanew + 4, 0x8664, true);
  dv.setUint16(lfanew + 6, sections.length, true);
  dv.setUint16(lfanew + 20, optSize, true);
  const opt = lfanew + 24;
  dv.setUint16(opt, 0x20b, true);
  dv.setBigUint64(opt + 24, 0x10000000n, true);
  dv.setUint32(opt + 32, SECTION_ALIGN, true);
  dv.setUint32(opt + 36, FILE_ALIGN, true);
  dv.setUint32(opt + 60, sizeOfHeaders, true);
  dv.setUint32(opt + 64, opts.checkSum ?? 0, true);
  dv.setUint16(opt + 68, 10, true); // EFI application
  dv.setUint32(opt + 108, 16, true);
  const certDirOffset = opt + 112 + 4 * 8;
  if (opts.cert) {
    dv.setUint32(certDirOffset, certAt, true);
    dv.setUint32(certDirOffset + 4, opts.cert.length, true);
    b.set(opts.cert, certAt);
  }
  let va = SECTION_ALIGN;
  sections.forEach((s, i) => {
    const h = secTable + i * 40;
    b.set(new TextEncoder().encode(s.name).subarray(0, 8), h);
    const vsize = s.virtualSize ?? s.data.length;
    dv.setUint32(h + 8, vsize, true);
    dv.setUint32(h + 12, va, true);
    dv.setUint32(h + 16, Math.ceil(s.data.length / FILE_ALIGN) * FILE_ALIGN, true);
    dv.setUint32(h + 20, sectionOffsets[i]!, true);
    b.set(s.data, sectionOffsets[i]!);
    va += Math.ceil(Math.max(vsize, 1) / SECTION_ALIGN) * SECTION_ALIGN;
  });
  dv.setUint32(opt + 56, va, true);
  return { bytes: b, checkSumOffset: opt + 64, certDirOffset, sizeOfHeaders, sectionOffsets };
}
