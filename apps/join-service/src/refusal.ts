import type { AtlsError } from "@asterism/atls";
import { MeasurementMismatchError } from "@asterism/measurements";
import type { LogFields } from "@asterism/service";

/** How deep the cause chain is searched (aTLS error → validator wrapper → measurements error). */
const MAX_CAUSE_DEPTH = 8;

/** The measurements mismatch somewhere in an error's cause chain, if any. */
export function findMeasurementMismatch(err: unknown): MeasurementMismatchError | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && e !== undefined && e !== null; depth++) {
    if (e instanceof MeasurementMismatchError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Log fields of a refused aTLS connection. When the node's measurements failed the join policy, every
 * enforced mismatching PCR is named with its expected and quoted value (public values: they are what the
 * image measures, nothing secret), so whoever reads the control plane's log (`serial.log` of a VM) sees
 * *why* a node was refused without re-running the validation:
 * `mismatchedPcrs: "4,9,11"`, `mismatches: "[4] expected … got …; [9] …"`. Other refusals carry their
 * code and the first 300 characters of the message, as before.
 */
export function refusalFields(err: AtlsError): LogFields {
  const fields: Record<string, string> = { code: err.code, reason: err.message.slice(0, 300) };
  const mismatch = findMeasurementMismatch(err);
  if (mismatch !== undefined) {
    const found = mismatch.verdict.mismatches;
    fields["mismatchedPcrs"] = found.map((f) => f.index).join(",");
    fields["mismatches"] = found
      .map((f) => `[${f.index}] expected ${f.expected} got ${f.actual ?? "nothing (not quoted)"}`)
      .join("; ");
  }
  return fields;
}
