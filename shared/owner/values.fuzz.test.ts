import { beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { fuzzRuns, fuzzTimeout, onlyTyped, onlyTypedAsync } from "@asterism/testing";
import fc from "fast-check";
import { createFixture, type Fixture, RP } from "./_test-helpers.ts";
import { parseApproval } from "./approval.ts";
import { parseAuditEntryValue, serializeAuditEntry, verifyAuditLog } from "./audit-log.ts";
import { parseChangeValue } from "./change.ts";
import { registrationOptions, verifyRegistration } from "./enrollment.ts";
import { ApprovalError, AuditLogError, ChangeRejectedError, OwnerParseError } from "./errors.ts";

/**
 * The owner module's entry points for values that arrive from a browser or from the cluster state (which
 * a Kubernetes admin can write): approvals, changes, audit entries and whole logs, and passkey
 * registrations. Only the module's coded errors, and a tampered log never verifies.
 */
const TYPED = [OwnerParseError, ApprovalError, AuditLogError, ChangeRejectedError];

let f: Fixture;
beforeAll(async () => {
  f = await createFixture(["alice", "bob"], 1);
}, 30_000);

const b64url = fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString("base64url"));
const approvalLike = fc.record(
  {
    credentialId: fc.oneof(b64url, fc.string({ maxLength: 20 })),
    authenticatorData: fc.oneof(b64url, fc.anything()),
    clientDataJSON: fc.oneof(b64url, fc.string({ maxLength: 20 })),
    signature: fc.oneof(b64url, fc.constant("")),
    userHandle: fc.oneof(b64url, fc.anything()),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

describe("owner values from untrusted sources", () => {
  test("parseApproval, parseChangeValue, parseAuditEntryValue: arbitrary values only throw coded errors", () => {
    fc.assert(
      fc.property(fc.oneof(approvalLike, fc.jsonValue(), fc.anything()), (value) => {
        onlyTyped(TYPED, () => parseApproval(value));
        onlyTyped(TYPED, () => parseChangeValue(value));
        onlyTyped(TYPED, () => parseAuditEntryValue(value));
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("parseChangeValue: one field of a real change replaced only throws coded errors", () => {
    const change = JSON.parse(JSON.stringify(f.genesis.change)) as Record<string, unknown>;
    const keys = Object.keys(change);
    fc.assert(
      fc.property(
        fc.constantFrom(...keys),
        fc.oneof(fc.jsonValue(), fc.string(), fc.anything()),
        (k, value) => {
          onlyTyped(TYPED, () => parseChangeValue({ ...change, [k]: value }));
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test(
    "verifyAuditLog: a log with one entry's field replaced never verifies as the genuine state",
    async () => {
      const genuine = await verifyAuditLog(f.entries, { anchor: f.state.genesisHash }); // not vacuous
      const entries = f.entries.map(
        (e) => JSON.parse(new TextDecoder().decode(serializeAuditEntry(e))) as Record<string, unknown>,
      );
      await fc.assert(
        fc.asyncProperty(
          fc.nat(),
          fc.constantFrom("change", "approvals"),
          fc.oneof(fc.jsonValue(), fc.anything()),
          async (i, field, value) => {
            const idx = i % entries.length;
            const tampered = entries.map((e, j) => (j === idx ? { ...e, [field]: value } : e));
            let parsed: ReturnType<typeof parseAuditEntryValue>[] | undefined;
            const parseCode = onlyTyped(TYPED, () => {
              parsed = tampered.map(parseAuditEntryValue);
            });
            if (parseCode !== undefined || parsed === undefined) return;
            let state: Awaited<ReturnType<typeof verifyAuditLog>> | undefined;
            const code = await onlyTypedAsync(TYPED, async () => {
              state = await verifyAuditLog(parsed as never, { anchor: f.state.genesisHash });
            });
            if (code === undefined) expect(state?.hashes).toEqual(genuine.hashes);
          },
        ),
        { numRuns: fuzzRuns(150) },
      );
    },
    fuzzTimeout(30_000),
  );

  test(
    "verifyRegistration: arbitrary browser responses only throw coded errors",
    async () => {
      const challenge = new Uint8Array(randomBytes(32));
      await registrationOptions({ rp: RP, ownerName: "carol", userId: new Uint8Array(16), challenge });
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.record(
              {
                id: b64url,
                rawId: b64url,
                type: fc.constantFrom("public-key", "x"),
                response: fc.record({ clientDataJSON: b64url, attestationObject: b64url }),
              },
              { requiredKeys: [] },
            ),
            fc.jsonValue(),
            fc.anything(),
          ),
          async (response) => {
            await onlyTypedAsync(TYPED, () => verifyRegistration({ response, challenge, rp: RP }));
          },
        ),
        { numRuns: fuzzRuns(200) },
      );
    },
    fuzzTimeout(30_000),
  );
});
