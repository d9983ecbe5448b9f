import { expect, test } from "bun:test";
import { fuzzRuns, onlyTyped } from "@asterism/testing";
import fc from "fast-check";
import { parseBootReport } from "./boot-report.ts";
import { NodeVmError } from "./errors.ts";

/**
 * The serial console of a VM is written by the guest (and, for a compromised image, by an attacker): the
 * boot-report parser returns a report, undefined (not complete yet), or a NodeVmError — nothing else.
 */
const line = fc.oneof(
  fc.tuple(fc.nat(30), fc.stringMatching(/^[0-9a-fA-F]{60,66}$/)).map(([i, h]) => `pcr ${i} ${h}`),
  fc
    .tuple(fc.stringMatching(/^[a-z0-9-]{1,40}$/), fc.string({ maxLength: 30 }))
    .map(([n, v]) => `fact ${n} ${v}`),
  fc.base64String({ maxLength: 80 }),
  fc.string({ maxLength: 60 }),
  fc.constantFrom(
    "ASTERISM-PCRS-BEGIN",
    "ASTERISM-PCRS-END",
    "ASTERISM-EVENTLOG-BEGIN",
    "ASTERISM-EVENTLOG-END",
    "\r",
    "",
  ),
);

test("parseBootReport: arbitrary console text gives a report, undefined or NodeVmError", () => {
  fc.assert(
    fc.property(fc.array(line, { maxLength: 40 }), (lines) => {
      let report: ReturnType<typeof parseBootReport>;
      onlyTyped([NodeVmError], () => {
        report = parseBootReport(lines.join("\n"));
      });
      for (const [i, v] of report?.pcrs ?? []) {
        expect(i).toBeLessThan(100);
        expect(v.length).toBe(32);
      }
    }),
    { numRuns: fuzzRuns() },
  );
});
