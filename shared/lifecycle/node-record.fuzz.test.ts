import { expect, test } from "bun:test";
import { utf8 } from "@asterism/bytes";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { NODE_RECORD_KEY, parseNodeRecord } from "./node-record.ts";

/** Node records sit in the cluster state (a Kubernetes admin can write them): parsing is total. */
test("parseNodeRecord: arbitrary stored data gives a record or undefined, never an exception", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue().map((j) => utf8(JSON.stringify(j))),
        fc.uint8Array({ maxLength: 100 }),
        fc
          .record(
            {
              name: fc.string({ maxLength: 20 }),
              role: fc.constantFrom("worker", "control-plane", "admin"),
              variant: fc.string({ maxLength: 10 }),
              lastAttestation: fc.anything(),
            },
            { requiredKeys: [] },
          )
          .map((r) => utf8(JSON.stringify(r))),
      ),
      (raw) => {
        const r = parseNodeRecord({
          kind: "config",
          name: "asterism-node-x",
          data: { [NODE_RECORD_KEY]: raw },
        } as never);
        if (r !== undefined) expect(["worker", "control-plane"]).toContain(r.role);
      },
    ),
    { numRuns: fuzzRuns() },
  );
});
