import { describe, expect, test } from "bun:test";
import { toBase64, toBase64Url } from "@asterism/bytes";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import * as v from "valibot";
import {
  AttestRequestSchema,
  BatchedVerifyResponseSchema,
  decodeNonce,
  ErrorBodySchema,
  InitRequestSchema,
  InitResponseSchema,
  JoinRequestSchema,
  JoinTicketSchema,
  MasterSecretWireSchema,
  RecoverRequestSchema,
  RecoverResponseSchema,
  RejoinRequestSchema,
  RejoinTicketSchema,
  VerifyResponseSchema,
} from "./index.ts";

/**
 * Every wire body, in both directions (a node parses tickets from the JoinService, the CLI parses init and
 * verify answers): `safeParse` on hostile JSON must return an issue list, never throw (a transform that
 * throws would escape safeParse as a 500).
 */
const SCHEMAS = {
  AttestRequestSchema,
  BatchedVerifyResponseSchema,
  ErrorBodySchema,
  InitRequestSchema,
  InitResponseSchema,
  JoinRequestSchema,
  JoinTicketSchema,
  MasterSecretWireSchema,
  RecoverRequestSchema,
  RecoverResponseSchema,
  RejoinRequestSchema,
  RejoinTicketSchema,
  VerifyResponseSchema,
} as const;

/** JSON values biased towards our field names and base64-looking strings. */
const wireish = fc.letrec((tie) => ({
  value: fc.oneof(
    { maxDepth: 3 },
    fc.jsonValue(),
    fc.base64String({ maxLength: 60 }),
    fc.stringMatching(/^[0-9a-f-]{0,40}$/),
    fc.dictionary(
      fc.constantFrom(
        "nonce",
        "csr",
        "diskUuid",
        "controlPlane",
        "data",
        "code",
        "message",
        "key",
        "salt",
        "initSecret",
        "masterSecret",
        "diskKey",
        "token",
        "caCertHashes",
        "kubeletCert",
        "controlPlaneFiles",
        "measurementSecret",
        "proof",
        "index",
        "size",
        "path",
      ),
      tie("value"),
      { maxKeys: 8 },
    ),
  ),
})).value;

describe("wire schemas", () => {
  test.each(Object.keys(SCHEMAS))("%s: safeParse never throws on hostile JSON", (name) => {
    const schema = SCHEMAS[name as keyof typeof SCHEMAS] as v.GenericSchema;
    fc.assert(
      fc.property(wireish, (json) => {
        const r = v.safeParse(schema, json);
        expect(typeof r.success).toBe("boolean");
      }),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("decodeNonce", () => {
  test("total: exactly 32 bytes or undefined", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 140 }), fc.base64String({ maxLength: 60 })), (s) => {
        const n = decodeNonce(s);
        if (n !== undefined) expect(n.length).toBe(32);
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("every 32-byte nonce round-trips from base64url (padded or not) and standard base64", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (b) => {
        expect(decodeNonce(toBase64Url(b))).toEqual(b);
        expect(decodeNonce(toBase64(b))).toEqual(b);
        expect(decodeNonce(`${toBase64Url(b)}=`)).toEqual(b);
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
