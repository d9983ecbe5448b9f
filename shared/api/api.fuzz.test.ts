import { describe, expect, test } from "bun:test";
import { AttestationParseError, parseAttestationPolicy } from "@asterism/attestation";
import { fromUtf8, toBase64, toBase64Url, utf8 } from "@asterism/bytes";
import { serializePolicy } from "@asterism/lifecycle";
import { createMeasurements, MeasurementsParseError } from "@asterism/measurements";
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
        "joinPolicy",
        "variants",
        "measurements",
        "expected",
        "warnOnly",
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

describe("InitRequest.joinPolicy", () => {
  const base = {
    initSecret: toBase64(new Uint8Array(32)),
    masterSecret: { key: toBase64(new Uint8Array(32)), salt: toBase64(new Uint8Array(32)) },
    measurementSalt: toBase64(new Uint8Array(32)),
    kubernetesVersion: "v1.31.13",
    kubernetesComponents: [],
    serviceCidr: "10.96.0.0/12",
  };
  const policies = fc
    .record({
      variants: fc.option(fc.constant(["qemu-vtpm"] as const), { nil: undefined }),
      entries: fc.uniqueArray(
        fc.record({
          index: fc.integer({ min: 0, max: 31 }),
          value: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          warnOnly: fc.boolean(),
        }),
        { maxLength: 32, selector: (e) => e.index },
      ),
    })
    .map(({ variants, entries }) =>
      serializePolicy({
        ...(variants ? { variants } : {}),
        measurements: createMeasurements(
          entries.map((e) => [e.index, { expected: e.value, warnOnly: e.warnOnly }] as const),
        ),
      }),
    );

  test("every policy serializePolicy writes is accepted and parses back to the same policy", () => {
    fc.assert(
      fc.property(policies, (bytes) => {
        const json = JSON.parse(fromUtf8(bytes)) as unknown;
        const r = v.safeParse(InitRequestSchema, { ...base, joinPolicy: json });
        expect(r.success).toBe(true);
        if (!r.success) return;
        const again = serializePolicy(parseAttestationPolicy(utf8(JSON.stringify(r.output.joinPolicy))));
        expect(fromUtf8(again)).toBe(fromUtf8(bytes));
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("whatever the schema accepts, parseAttestationPolicy parses or refuses with a typed error", () => {
    fc.assert(
      fc.property(wireish, (json) => {
        const r = v.safeParse(InitRequestSchema, { ...base, joinPolicy: json });
        if (!r.success) return;
        try {
          parseAttestationPolicy(utf8(JSON.stringify(r.output.joinPolicy)));
        } catch (err) {
          expect(err instanceof AttestationParseError || err instanceof MeasurementsParseError).toBe(true);
        }
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
