/**
 * The validation policy a verifier applies to a document: which variants it accepts and which
 * measurements it requires. Read from JSON (valibot), e.g. the `--policy` file of
 * `asterism attestation verify-doc`:
 *
 * ```json
 * { "variants": ["qemu-vtpm"], "measurements": { "4": {"expected": "…", "warnOnly": false}, "15": "…" } }
 * ```
 *
 * A file that is just a measurements map (Constellation's format, JSON or YAML) is accepted as
 * `{ "measurements": <that map> }` with every variant allowed.
 */
import {
  type Measurements,
  measurementsFromJsonValue,
  parseMeasurementsJson,
  parseMeasurementsYaml,
} from "@asterism/measurements";
import { parseSnpPolicy, type SnpPolicy } from "@asterism/sev-snp";
import * as v from "valibot";
import { schemaError } from "./document.ts";
import { AttestationParseError, AttestationPolicyError } from "./errors.ts";
import { isVariant, VARIANTS, type Variant } from "./variant.ts";

/** A parsed policy. */
export interface AttestationPolicy {
  /** Variants accepted; absent = any registered variant. */
  readonly variants?: readonly Variant[];
  /** Expected measurements. Every listed index is checked; an empty map checks nothing. */
  readonly measurements: Measurements;
  /**
   * SEV-SNP report policy for the SNP-based variants (@asterism/sev-snp schema: launch measurement, TCB
   * minimums, guest policy, ID keys …). Absent: the schema's defaults (debug forbidden, VMPL 0, nothing
   * else). `reportData` must be absent: the variant sets it to its binding.
   */
  readonly snp?: SnpPolicy;
}

/** JSON schema of the policy object. `measurements` is validated by `@asterism/measurements`. */
export const AttestationPolicySchema = v.strictObject({
  variants: v.optional(v.pipe(v.array(v.string()), v.minLength(1), v.maxLength(16))),
  measurements: v.unknown(),
  snp: v.optional(v.unknown()),
});

const ACTION = "Cannot parse attestation policy";
const MAX_POLICY_BYTES = 1 << 20;

/** Parse a policy file (policy object in JSON, or a bare measurements map in JSON or YAML). */
export function parseAttestationPolicy(bytes: Uint8Array): AttestationPolicy {
  if (bytes.length > MAX_POLICY_BYTES) {
    throw new AttestationParseError("TOO_LARGE", ACTION, { expected: `at most ${MAX_POLICY_BYTES} bytes` });
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return { measurements: parseMeasurementsYaml(bytes) };
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "measurements" in value) {
    const r = v.safeParse(AttestationPolicySchema, value);
    if (!r.success) throw schemaError(ACTION, "{variants?, measurements, snp?}", r.issues);
    const variants = r.output.variants?.map((name) => {
      if (!isVariant(name)) {
        throw new AttestationParseError("UNKNOWN_VARIANT", ACTION, {
          expected: Object.keys(VARIANTS).join(", "),
          actual: JSON.stringify(name.slice(0, 40)),
        });
      }
      return name;
    });
    const snp = r.output.snp === undefined ? undefined : parseSnpPolicy(r.output.snp);
    if (snp?.reportData !== undefined) {
      throw new AttestationParseError("INVALID_SCHEMA", ACTION, {
        expected: "no snp.reportData (the variant binds it)",
        actual: "snp.reportData set",
      });
    }
    return {
      ...(variants ? { variants } : {}),
      measurements: measurementsFromJsonValue(r.output.measurements),
      ...(snp ? { snp } : {}),
    };
  }
  return { measurements: parseMeasurementsJson(bytes) };
}

/** Check the policy admits `variant` and that its measurement size fits the variant. */
export function checkPolicyForVariant(policy: AttestationPolicy, variant: Variant): void {
  if (policy.variants !== undefined && !policy.variants.includes(variant)) {
    throw new AttestationPolicyError("VARIANT_NOT_ALLOWED", "Policy does not accept this variant", {
      expected: policy.variants.join(", "),
      actual: variant,
    });
  }
  const want = VARIANTS[variant].measurementBytes;
  for (const [index, m] of policy.measurements) {
    if (m.expected.length / 2 !== want) {
      throw new AttestationPolicyError(
        "POLICY_INVALID",
        `Policy measurement ${index} does not fit ${variant}`,
        {
          expected: `${want}-byte values`,
          actual: `${m.expected.length / 2} bytes`,
        },
      );
    }
    break;
  }
}
