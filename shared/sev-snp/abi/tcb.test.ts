import { describe, expect, test } from "bun:test";
import { SnpParseError } from "../errors.ts";
import { productFromCpuid, productFromName } from "./product.ts";
import { decodeTcb, encodeTcb, tcbBelow } from "./tcb.ts";

describe("TCB_VERSION layouts", () => {
  test.each([
    {
      name: "Milan (V1 Azure)",
      raw: 0x5d06000000000002n,
      product: "milan" as const,
      want: { bootloader: 2, tee: 0, snp: 6, microcode: 93 },
    },
    {
      name: "Genoa (oak)",
      raw: 0x5419000000000000n | 10n,
      product: "genoa" as const,
      want: { bootloader: 10, tee: 0, snp: 25, microcode: 84 },
    },
    {
      name: "Turin: fmc byte 0, bl 1, tee 2, snp 3, ucode 7",
      raw: 0x0900000004030201n,
      product: "turin" as const,
      want: { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 9 },
    },
  ])("$name", ({ raw, product, want }) => {
    expect(decodeTcb(raw, product)).toEqual(want);
    expect(encodeTcb(want, product)).toBe(raw);
  });

  test.each([
    { name: "Milan byte 2", raw: 0x0000000000010000n, product: "milan" as const },
    { name: "Milan byte 5", raw: 0x0000010000000000n, product: "milan" as const },
    { name: "Turin byte 4", raw: 0x0000000100000000n, product: "turin" as const },
    { name: "Turin byte 6", raw: 0x0001000000000000n, product: "turin" as const },
  ])("reserved $name → RESERVED_NONZERO", ({ raw, product }) => {
    try {
      decodeTcb(raw, product);
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(SnpParseError);
      expect((e as SnpParseError).code).toBe("RESERVED_NONZERO");
    }
  });

  test("tcbBelow compares per component (a high microcode cannot hide an old bootloader)", () => {
    const min = { bootloader: 3, tee: 0, snp: 8, microcode: 100 };
    expect(tcbBelow({ bootloader: 2, tee: 0, snp: 8, microcode: 255 }, min)).toBe("bootloader");
    expect(tcbBelow({ bootloader: 3, tee: 0, snp: 8, microcode: 100 }, min)).toBeUndefined();
    expect(tcbBelow({ fmc: 0, bootloader: 3, tee: 0, snp: 8, microcode: 100 }, { ...min, fmc: 1 })).toBe(
      "fmc",
    );
  });
});

describe("product detection", () => {
  test.each([
    [0x19, 0x01, "milan"],
    [0x19, 0x11, "genoa"],
    [0x19, 0xa0, "genoa"],
    [0x1a, 0x02, "turin"],
    [0x1a, 0x11, "turin"],
    [0x17, 0x31, undefined],
    [0x19, 0x21, undefined],
  ] as const)("family %i model %i → %p", (f, m, p) => {
    expect(productFromCpuid(f, m)).toBe(p);
  });
  test("productName", () => {
    expect(productFromName("Milan-B0")).toBe("milan");
    expect(productFromName("Genoa")).toBe("genoa");
    expect(productFromName("Turin")).toBe("turin");
    expect(productFromName("Rome")).toBeUndefined();
  });
});
