import { describe, expect, test } from "bun:test";
import { toHex } from "@asterism/bytes";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { SnpParseError } from "../errors.ts";
import { thrown, vectors } from "../vectors.test-helper.ts";
import { decodePlatformInfo } from "./policy.ts";
import { type AttestationReport, parseReport, REPORT_SIZE, serializeReport } from "./report.ts";
import { decodeTcb } from "./tcb.ts";

async function code(f: () => unknown): Promise<string> {
  const e = await thrown(f);
  expect(e).toBeInstanceOf(SnpParseError);
  return (e as SnpParseError).code;
}

describe("golden reports decode to the facts VECTORS.md states", () => {
  test("go-sev-guest attestation.bin (Milan v2, debug+SMT policy)", async () => {
    const r = parseReport(await vectors.gsg.report());
    expect(r.version).toBe(2);
    expect(r.guestSvn).toBe(0);
    expect(r.policy).toMatchObject({ smt: 1, debug: 1, migrateMa: 0, abiMajor: 0, abiMinor: 0 });
    expect(r.vmpl).toBe(0);
    expect(r.signatureAlgo).toBe(1);
    expect(r.currentTcb).toBe(0x4405000000000002n);
    expect(decodeTcb(r.reportedTcb, "milan")).toEqual({ bootloader: 2, tee: 0, snp: 5, microcode: 68 });
    expect(r.platformInfo).toBe(1n);
    expect([r.currentMajor, r.currentMinor, r.currentBuild]).toEqual([1, 49, 3]);
    expect(toHex(r.measurement)).toBe(
      "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01",
    );
    expect(toHex(r.reportId)).toBe("8edc638e1857c555d21f6b11bda3c8b1b5a09dba4852b4c8ee7aa2f16f22cc0a");
    expect(toHex(r.reportIdMa)).toBe("ff".repeat(32));
    expect(toHex(r.chipId).startsWith("3ac3fe21e13fb099")).toBe(true);
    expect(toHex(r.reportData)).toBe(`0102030405${"00".repeat(59)}`);
  });

  test("virtee report_milan (.hex and .bin are the same report)", async () => {
    const r = parseReport(await vectors.virtee.report());
    expect(parseReport(await vectors.virtee.reportHex()).raw).toEqual(r.raw);
    expect(r.version).toBe(2);
    expect(decodeTcb(r.currentTcb, "milan")).toEqual({ bootloader: 3, tee: 0, snp: 8, microcode: 115 });
    expect(toHex(r.measurement)).toBe(
      "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f",
    );
    expect([r.currentMajor, r.currentMinor, r.currentBuild]).toEqual([1, 52, 4]);
  });

  test("oak Genoa report is version 5 with CPUID and mitigation vectors", async () => {
    const r = parseReport(await vectors.oak.report());
    expect(r.version).toBe(5);
    if (r.version !== 5) throw new Error("unreachable");
    expect([r.cpuidFamId, r.cpuidModId, r.cpuidStep]).toEqual([0x19, 0x11, 1]);
    expect(r.platformInfo).toBe(0x25n);
    expect(decodeTcb(r.launchTcb, "genoa")).toEqual({ bootloader: 10, tee: 0, snp: 25, microcode: 84 });
    expect([r.currentMajor, r.currentMinor, r.currentBuild]).toEqual([1, 55, 43]);
    expect(r.launchMitVector).toBe(1n);
    expect(r.currentMitVector).toBe(1n);
    expect(decodePlatformInfo(r.platformInfo)).toMatchObject({
      smtEnabled: true,
      eccEnabled: true,
      aliasCheckComplete: true,
    });
  });

  test("Azure 1204-byte file parses only with allowTrailing (V1)", async () => {
    const bytes = await vectors.azure.report();
    expect(bytes.length).toBe(1204);
    expect(await code(() => parseReport(bytes))).toBe("REPORT_SIZE");
    const r = parseReport(bytes, { allowTrailing: true });
    expect(r.raw.length).toBe(REPORT_SIZE);
    expect(r.guestSvn).toBe(2);
    expect(r.policy).toMatchObject({ abiMinor: 31, smt: 1, debug: 0 });
    expect(r.signerInfo.signingKey).toBe(0);
    expect(r.currentTcb).toBe(0x5d06000000000002n);
    expect(toHex(r.idKeyDigest)).toBe(
      "57e229e0ffe5fa92d0faddff6cae0e61c926fc9ef9afd20a8b8cfcf7129db9338cbe5bf3f6987733a2bf65d06dc38fc1",
    );
  });

  test("V2 VLEK hex report: signer VLEK, zero chip id, TCBs", async () => {
    const r = parseReport(await vectors.vlekHex.report());
    expect(r.signerInfo.signingKey).toBe(1);
    expect(toHex(r.chipId)).toBe("00".repeat(64));
    expect(decodeTcb(r.currentTcb, "milan")).toEqual({ bootloader: 3, tee: 0, snp: 10, microcode: 206 });
    expect(decodeTcb(r.launchTcb, "milan")).toEqual({ bootloader: 3, tee: 0, snp: 10, microcode: 115 });
    expect(toHex(r.reportData).startsWith("44a93ab0")).toBe(true);
  });

  test("V3 AWS report: version 3, CPUID 19 01 01, VLEK, platform_info 0x27", async () => {
    const r = parseReport(await vectors.aws.report());
    expect(r.version).toBe(3);
    if (r.version !== 3) throw new Error("unreachable");
    expect([r.cpuidFamId, r.cpuidModId, r.cpuidStep]).toEqual([0x19, 1, 1]);
    expect(r.signerInfo.signingKey).toBe(1);
    expect(r.platformInfo).toBe(0x27n);
    expect(decodeTcb(r.currentTcb, "milan")).toEqual({ bootloader: 4, tee: 0, snp: 24, microcode: 220 });
    expect(decodeTcb(r.reportedTcb, "milan")).toEqual({ bootloader: 4, tee: 0, snp: 24, microcode: 217 });
    expect(toHex(r.reportData)).toBe(vectors.aws.akDigest);
  });
});

describe("round trip: serializeReport(parseReport(x)) == x", () => {
  const all = Object.entries({
    gsg: vectors.gsg.report,
    virtee: vectors.virtee.report,
    oak: vectors.oak.report,
    vlek: vectors.vlekHex.report,
    aws: vectors.aws.report,
  });
  test.each(all.map(([name, load]) => ({ name, load })))("$name", async ({ load }) => {
    const bytes = await load();
    expect(serializeReport(parseReport(bytes))).toEqual(bytes);
  });
});

/** Reserved byte ranges per version, from the spec table in report.ts. */
const RESERVED: Record<2 | 3 | 5, [number, number][]> = {
  2: [
    [0x04c, 0x050],
    [0x188, 0x1a0],
    [0x1eb, 0x1ec],
    [0x1ef, 0x1f0],
    [0x1f8, 0x2a0],
    [0x2d0, 0x2e8],
    [0x318, 0x4a0],
  ],
  3: [
    [0x04c, 0x050],
    [0x18b, 0x1a0],
    [0x1eb, 0x1ec],
    [0x1ef, 0x1f0],
    [0x1f8, 0x2a0],
    [0x2d0, 0x2e8],
    [0x318, 0x4a0],
  ],
  5: [
    [0x04c, 0x050],
    [0x18b, 0x1a0],
    [0x1eb, 0x1ec],
    [0x1ef, 0x1f0],
    [0x208, 0x2a0],
    [0x2d0, 0x2e8],
    [0x318, 0x4a0],
  ],
};

describe("mutation: every reserved byte set non-zero → RESERVED_NONZERO", () => {
  const sources = { 2: vectors.gsg.report, 3: vectors.aws.report, 5: vectors.oak.report } as const;
  test.each([2, 3, 5] as const)("version %d", async (version) => {
    const clean = await sources[version]();
    let n = 0;
    for (const [from, to] of RESERVED[version]) {
      for (let i = from; i < to; i++) {
        const m = clean.slice();
        m[i] = 0x01;
        const e = await thrown(() => parseReport(m));
        expect(e).toBeInstanceOf(SnpParseError);
        expect((e as SnpParseError).code).toBe("RESERVED_NONZERO");
        n++;
      }
    }
    expect(n).toBeGreaterThan(500);
  });

  test("every byte outside reserved ranges and bit fields is accepted when changed", async () => {
    const clean = await vectors.oak.report();
    const reserved = RESERVED[5];
    const bitFields: [number, number][] = [
      [0x000, 0x004],
      [0x008, 0x010],
      [0x048, 0x04c],
    ];
    const inAny = (i: number, rs: [number, number][]) => rs.some(([a, b]) => i >= a && i < b);
    for (let i = 0; i < REPORT_SIZE; i++) {
      if (inAny(i, reserved) || inAny(i, bitFields)) continue;
      const m = clean.slice();
      m[i] = (m[i] as number) ^ 0x01;
      expect(() => parseReport(m)).not.toThrow();
    }
  });
});

describe("rejections", () => {
  test.each([
    { name: "empty", len: 0 },
    { name: "one byte short", len: REPORT_SIZE - 1 },
    { name: "truncated by 100 (V1 negative)", len: REPORT_SIZE - 100 },
    { name: "one byte long", len: REPORT_SIZE + 1 },
  ])("$name → REPORT_SIZE", async ({ len }) => {
    const b = new Uint8Array(len);
    b[0] = 2;
    expect(await code(() => parseReport(b))).toBe("REPORT_SIZE");
  });

  test("Azure report cut as [10:len-10] (V1 negative) is rejected", async () => {
    const b = await vectors.azure.report();
    expect(await code(() => parseReport(b.subarray(10, b.length - 10), { allowTrailing: true }))).toMatch(
      /UNSUPPORTED_VERSION|RESERVED_NONZERO|INVALID_FIELD/,
    );
  });

  test.each([0, 1, 4, 6, 0xffffffff])("version %d → UNSUPPORTED_VERSION", async (v) => {
    const b = (await vectors.gsg.report()).slice();
    new DataView(b.buffer).setUint32(0, v, true);
    expect(await code(() => parseReport(b))).toBe("UNSUPPORTED_VERSION");
  });

  test("guest policy bit 17 clear → INVALID_FIELD", async () => {
    const b = (await vectors.gsg.report()).slice();
    b[0x0a] = (b[0x0a] as number) & ~0x02;
    expect(await code(() => parseReport(b))).toBe("INVALID_FIELD");
  });

  test.each([26, 40, 63])("guest policy reserved bit %d → RESERVED_NONZERO", async (bit) => {
    const b = (await vectors.gsg.report()).slice();
    b[0x08 + (bit >> 3)] = (b[0x08 + (bit >> 3)] as number) | (1 << (bit & 7));
    expect(await code(() => parseReport(b))).toBe("RESERVED_NONZERO");
  });

  test.each([5, 16, 31])("signer_info reserved bit %d → RESERVED_NONZERO", async (bit) => {
    const b = (await vectors.gsg.report()).slice();
    b[0x48 + (bit >> 3)] = (b[0x48 + (bit >> 3)] as number) | (1 << (bit & 7));
    expect(await code(() => parseReport(b))).toBe("RESERVED_NONZERO");
  });
});

describe("seeded random round trips", () => {
  test("random field values survive serialize → parse", async () => {
    const base = parseReport(await vectors.oak.report());
    const bytesOf = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
    fc.assert(
      fc.property(
        fc.record({
          version: fc.constantFrom(2 as const, 3 as const, 5 as const),
          guestSvn: fc.nat({ max: 0xffffffff }),
          smt: fc.nat({ max: 1 }),
          debug: fc.nat({ max: 1 }),
          abiMinor: fc.nat({ max: 255 }),
          vmpl: fc.nat({ max: 3 }),
          currentTcb: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          reportData: bytesOf(64),
          measurement: bytesOf(48),
          chipId: bytesOf(64),
          signingKey: fc.constantFrom(0, 1, 7),
          cpuid: fc.nat({ max: 255 }),
          mit: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        }),
        (x) => {
          const fields = {
            ...base,
            version: x.version,
            guestSvn: x.guestSvn,
            policy: { ...base.policy, smt: x.smt, debug: x.debug, abiMinor: x.abiMinor },
            vmpl: x.vmpl,
            currentTcb: x.currentTcb,
            reportData: x.reportData,
            measurement: x.measurement,
            chipId: x.chipId,
            signerInfo: { ...base.signerInfo, signingKey: x.signingKey },
            cpuidFamId: x.cpuid,
            launchMitVector: x.mit,
          } as unknown as AttestationReport;
          const bytes = serializeReport(fields);
          const back = parseReport(bytes);
          expect(back.version).toBe(x.version);
          expect(back.reportData).toEqual(x.reportData);
          expect(back.currentTcb).toBe(x.currentTcb);
          expect(back.policy.debug).toBe(x.debug);
          expect(back.signerInfo.signingKey).toBe(x.signingKey);
          if (back.version !== 2) expect(back.cpuidFamId).toBe(x.cpuid);
          if (back.version === 5) expect(back.launchMitVector).toBe(x.mit);
          expect(serializeReport(back)).toEqual(bytes);
        },
      ),
      { numRuns: Math.min(fuzzRuns(), 2000) },
    );
  });
});
