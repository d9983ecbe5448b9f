import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { decodeNonce } from "@asterism/api";
import { fuzzRuns } from "@asterism/testing";
import { EV, EventLogWriter, TPM_ALG } from "@asterism/tpm";
import fc from "fast-check";
import { identityEventData, identityFromEventLog, NodeIdentityError, parseNodeIdentity } from "./index.ts";

const ID = { name: "worker-0", role: "worker" as const, ips: ["127.0.0.1"] };
const log = (() => {
  const w = new EventLogWriter([TPM_ALG.SHA256]);
  w.append({ pcrIndex: 16, eventType: EV.EVENT_TAG, data: identityEventData(ID) });
  return w.bytes();
})();
const pcr16 = (() => {
  const d = createHash("sha256").update(identityEventData(ID)).digest();
  return new Uint8Array(createHash("sha256").update(new Uint8Array(32)).update(d).digest());
})();

/** Only NodeIdentityError may escape; anything else (TypeError, RangeError, CodecError …) is a bug. */
function onlyIdentityErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(NodeIdentityError);
  }
}

describe("fuzz: node identity", () => {
  test("the valid log proves the identity (control)", () => {
    expect(identityFromEventLog(log, pcr16)).toEqual(ID);
  });

  test("random bytes as a log only ever give NodeIdentityError", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (bytes, pcr) => onlyIdentityErrors(() => identityFromEventLog(bytes, pcr)),
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("mutated valid logs are refused with NodeIdentityError or still prove exactly the same identity", () => {
    fc.assert(
      fc.property(fc.nat({ max: log.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const m = log.slice();
        m[at] = (m[at] as number) ^ x;
        try {
          expect(identityFromEventLog(m, pcr16)).toEqual(ID);
        } catch (e) {
          expect(e).toBeInstanceOf(NodeIdentityError);
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("random identity JSON only ever gives NodeIdentityError", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json()), (s) =>
        onlyIdentityErrors(() => parseNodeIdentity(new TextEncoder().encode(s))),
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("decodeNonce never throws and only returns 32 bytes", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const n = decodeNonce(s);
        expect(n === undefined || n.length === 32).toBe(true);
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
