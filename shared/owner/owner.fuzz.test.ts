import { beforeAll, describe, expect, test } from "bun:test";
import { fromBase64Url, toBase64Url } from "@asterism/bytes";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { approve, createFixture, type Fixture, key, next, POLICY_A } from "./_test-helpers.ts";
import { type Approval, verifyApproval } from "./approval.ts";
import { parseAuditEntry, serializeAuditEntry } from "./audit-log.ts";
import { canonicalJson, parseCanonicalJson } from "./canonical-json.ts";
import { type Change, changeDigest, parseChange, serializeChange } from "./change.ts";
import { ApprovalError, OwnerParseError } from "./errors.ts";
import { parseAssertionAuthenticatorData, parseClientData } from "./webauthn-data.ts";

const typed = (err: unknown) => err instanceof OwnerParseError || err instanceof ApprovalError;

function onlyTyped(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!typed(err)) throw err;
  }
}

let f: Fixture;
let change: Change;
let good: Approval;
beforeAll(async () => {
  f = await createFixture(["alice"], 1);
  change = next(f, "attestation-policy", { policy: POLICY_A });
  good = approve(f.auth, key(f, "alice"), change);
});

describe("parsers only throw OwnerParseError", () => {
  test("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => {
        onlyTyped(() => parseChange(b));
        onlyTyped(() => parseAuditEntry(b));
        onlyTyped(() => parseAssertionAuthenticatorData(b));
        onlyTyped(() => parseClientData(b));
        onlyTyped(() => parseCanonicalJson(b, 512, "fuzz"));
      }),
      { numRuns: fuzzRuns() },
    );
  });
  test("mutated canonical change bytes: refused or re-serialized identically", () => {
    const bytes = serializeChange(change);
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const m = bytes.slice();
        m[at]! ^= x;
        try {
          expect(serializeChange(parseChange(m))).toEqual(m);
        } catch (err) {
          if (!typed(err)) throw err;
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });
  test("random JSON values: canonical form is stable and parses back", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        let text: string;
        try {
          text = canonicalJson(v);
        } catch (err) {
          if (!typed(err)) throw err;
          return;
        }
        const again = parseCanonicalJson(new TextEncoder().encode(text), 1 << 20, "fuzz");
        expect(canonicalJson(again)).toBe(text);
      }),
      { numRuns: fuzzRuns() },
    );
  });
  test("audit entry round trip", () => {
    const entry = { format: "asterism.audit-entry/v1" as const, change, approvals: [good] };
    expect(parseAuditEntry(serializeAuditEntry(entry))).toEqual(entry);
  });
});

describe("mutated approvals never verify and only throw typed errors", () => {
  const fields = ["authenticatorData", "clientDataJSON", "signature"] as const;
  test("one flipped byte in any signed field", async () => {
    const check = {
      challenge: changeDigest(change),
      credential: f.owners[0]!.credentials[0]!,
      rp: f.state.rp,
      counter: 0,
    };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...fields),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (field, pos, x) => {
          const raw = fromBase64Url(good[field]);
          raw[pos % raw.length]! ^= x;
          try {
            await verifyApproval({ ...good, [field]: toBase64Url(raw) }, check);
          } catch (err) {
            if (!typed(err)) throw err;
            return;
          }
          throw new Error(`a flipped byte in ${field} verified`); // the signature covers every byte
        },
      ),
      { numRuns: Math.min(fuzzRuns(), 300) },
    );
  });
});
