import { describe, expect, test } from "bun:test";
import {
  compareMeasurements,
  createMeasurements,
  describeFindings,
  MeasurementMismatchError,
  validateMeasurements,
} from "./index.ts";

const H = (b: string) => b.repeat(32);

const policy = createMeasurements([
  [4, { expected: H("44") }],
  [9, { expected: H("99") }],
  [14, { expected: H("00"), warnOnly: true }],
  [15, { expected: H("00") }],
]);
const good = new Map<number, string>([
  [4, H("44")],
  [9, H("99")],
  [14, H("00")],
  [15, H("00")],
  [16, H("16")], // not in the policy: ignored
]);

describe("compareMeasurements()", () => {
  test("all equal → ok, every index matched, no warnings", () => {
    const v = compareMeasurements(policy, good);
    expect(v).toEqual({ ok: true, mismatches: [], warnings: [], matched: [4, 9, 14, 15] });
  });

  test("bytes and upper-case hex measured values are accepted", () => {
    const v = compareMeasurements(policy, {
      4: Buffer.from(H("44"), "hex"),
      9: H("99").toUpperCase(),
      14: H("00"),
      15: new Uint8Array(32),
    });
    expect(v.ok).toBe(true);
  });

  test("lists EVERY enforced mismatch and every warning, including missing values", () => {
    const measured = new Map(good);
    measured.set(4, H("45"));
    measured.delete(9);
    measured.set(14, H("01"));
    measured.set(15, H("ff"));
    const v = compareMeasurements(policy, measured);
    expect(v.ok).toBe(false);
    expect(v.mismatches).toEqual([
      { index: 4, expected: H("44"), actual: H("45"), warnOnly: false },
      { index: 9, expected: H("99"), actual: null, warnOnly: false },
      { index: 15, expected: H("00"), actual: H("ff"), warnOnly: false },
    ]);
    expect(v.warnings).toEqual([{ index: 14, expected: H("00"), actual: H("01"), warnOnly: true }]);
    expect(describeFindings(v.warnings)).toHaveLength(1);
  });

  test("a value of the wrong size is a mismatch", () => {
    const measured = new Map(good);
    measured.set(4, "44".repeat(48));
    expect(compareMeasurements(policy, measured).mismatches.map((f) => f.index)).toEqual([4]);
  });

  test("warn-only mismatches alone keep the verdict ok (upstream: one warning per PCR)", () => {
    const warnAll = createMeasurements(
      [0, 1, 2, 3].map((i) => [i, { expected: H("00"), warnOnly: true }] as const),
    );
    const v = compareMeasurements(warnAll, new Map([0, 1, 2, 3].map((i) => [i, H("11")])));
    expect(v.ok).toBe(true);
    expect(v.warnings).toHaveLength(4);
  });
});

describe("validateMeasurements()", () => {
  test("throws MEASUREMENT_MISMATCH carrying the full verdict", () => {
    const measured = new Map(good);
    measured.set(4, H("45"));
    measured.set(15, H("ff"));
    let err: unknown;
    try {
      validateMeasurements(policy, measured);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MeasurementMismatchError);
    const m = err as MeasurementMismatchError;
    expect(m.code).toBe("MEASUREMENT_MISMATCH");
    expect(m.verdict.mismatches.map((f) => f.index)).toEqual([4, 15]);
    expect(m.message).toContain("[4]");
    expect(m.message).toContain("[15]");
  });

  test("returns warnings when only warn-only indices differ", () => {
    const measured = new Map(good);
    measured.set(14, H("01"));
    expect(validateMeasurements(policy, measured).warnings.map((f) => f.index)).toEqual([14]);
  });

  // Mutation test over every policy field: each single change to the policy must flip the verdict.
  const mutations: {
    name: string;
    mutate: (p: Map<number, { expected: string; warnOnly: boolean }>) => void;
  }[] = [
    { name: "expected of enforced index 4", mutate: (p) => p.set(4, { expected: H("40"), warnOnly: false }) },
    {
      name: "expected of enforced index 15",
      mutate: (p) => p.set(15, { expected: H("01"), warnOnly: false }),
    },
    {
      name: "new enforced index missing in evidence",
      mutate: (p) => p.set(7, { expected: H("00"), warnOnly: false }),
    },
    {
      name: "warn-only index made enforced and wrong",
      mutate: (p) => p.set(14, { expected: H("0e"), warnOnly: false }),
    },
  ];
  test.each(mutations)("policy mutation: $name → MEASUREMENT_MISMATCH", ({ mutate }) => {
    const p = new Map(policy);
    mutate(p);
    expect(() => validateMeasurements(p, good)).toThrow(MeasurementMismatchError);
  });

  test("policy mutation: enforced index made warn-only and wrong → warning, not failure", () => {
    const p = new Map(policy);
    p.set(4, { expected: H("40"), warnOnly: true });
    expect(validateMeasurements(p, good).warnings.map((f) => f.index)).toEqual([4]);
  });
});
