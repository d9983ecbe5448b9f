/**
 * Comparing measured values with a policy. The verdict lists every enforced mismatch and every warn-only
 * mismatch, so an operator sees all that is wrong at once (never a bare `false`).
 *
 * Semantics (reference/constellation.md §5.2 step 6): every listed index is compared; a missing measured
 * value counts as a mismatch; indices not in the policy are ignored.
 */
import { MeasurementsPolicyError } from "./errors.ts";
import type { Measurements } from "./policy.ts";

/** One index whose measured value differs from the policy. */
export interface MeasurementFinding {
  readonly index: number;
  /** Lower-case hex from the policy. */
  readonly expected: string;
  /** Lower-case hex measured, or `null` when the evidence did not carry this index. */
  readonly actual: string | null;
  readonly warnOnly: boolean;
}

/** The outcome of comparing measured values with a policy. */
export interface MeasurementsVerdict {
  /** True when no enforced index mismatched (warnings allowed). */
  readonly ok: boolean;
  /** Enforced indices that differ or are missing, in index order. */
  readonly mismatches: readonly MeasurementFinding[];
  /** Warn-only indices that differ or are missing, in index order. */
  readonly warnings: readonly MeasurementFinding[];
  /** Indices compared and found equal. */
  readonly matched: readonly number[];
}

/** Measured values: index → bytes or hex (either case). */
export type MeasuredValues =
  | ReadonlyMap<number, Uint8Array | string>
  | Readonly<Record<number, Uint8Array | string>>;

function lookup(values: MeasuredValues, index: number): string | null {
  const raw =
    values instanceof Map ? values.get(index) : (values as Record<number, Uint8Array | string>)[index];
  if (raw === undefined) return null;
  return typeof raw === "string" ? raw.toLowerCase() : Buffer.from(raw).toString("hex");
}

/** Compare without throwing. */
export function compareMeasurements(policy: Measurements, measured: MeasuredValues): MeasurementsVerdict {
  const mismatches: MeasurementFinding[] = [];
  const warnings: MeasurementFinding[] = [];
  const matched: number[] = [];
  for (const [index, want] of [...policy].sort(([a], [b]) => a - b)) {
    const actual = lookup(measured, index);
    if (actual === want.expected) {
      matched.push(index);
      continue;
    }
    const finding = { index, expected: want.expected, actual, warnOnly: want.warnOnly };
    (want.warnOnly ? warnings : mismatches).push(finding);
  }
  return { ok: mismatches.length === 0, mismatches, warnings, matched };
}

/** Human-readable warning lines for warn-only mismatches (one per index). */
export function describeFindings(findings: readonly MeasurementFinding[]): string[] {
  return findings.map(
    (f) => `measurement ${f.index}: expected ${f.expected}, got ${f.actual ?? "nothing (not in evidence)"}`,
  );
}

/** Thrown by {@link validateMeasurements}; carries the full verdict. */
export class MeasurementMismatchError extends MeasurementsPolicyError {
  readonly verdict: MeasurementsVerdict;
  constructor(verdict: MeasurementsVerdict) {
    super("MEASUREMENT_MISMATCH", "Measurements do not match the policy", {
      expected: verdict.mismatches.map((f) => `[${f.index}]=${f.expected}`).join(", "),
      actual: verdict.mismatches.map((f) => `[${f.index}]=${f.actual ?? "missing"}`).join(", "),
    });
    this.verdict = verdict;
  }
}

/**
 * Compare and throw {@link MeasurementMismatchError} (code `MEASUREMENT_MISMATCH`) listing every enforced
 * mismatch; otherwise return the verdict, whose `warnings` the caller must surface.
 */
export function validateMeasurements(policy: Measurements, measured: MeasuredValues): MeasurementsVerdict {
  const verdict = compareMeasurements(policy, measured);
  if (!verdict.ok) throw new MeasurementMismatchError(verdict);
  return verdict;
}
