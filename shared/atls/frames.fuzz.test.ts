import { expect, test } from "bun:test";
import { PassThrough } from "node:stream";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { AtlsError } from "./errors.ts";
import {
  ATLS_FRAME_TYPE,
  decodeClientEvidence,
  decodeVerdict,
  encodeClientEvidence,
  readFrame,
} from "./frames.ts";

const CODES = [
  "PROTOCOL_VIOLATION",
  "EVIDENCE_TOO_LARGE",
  "UNEXPECTED_DATA",
  "ATTESTATION_TIMEOUT",
  "CONNECTION_CLOSED",
];

test("random and mutated frame bodies only ever throw PROTOCOL_VIOLATION", () => {
  const valid = encodeClientEvidence("1.3.9900.5.1", new Uint8Array(40).fill(3)).subarray(10);
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
      const m = valid.slice();
      m[i] = b;
      return m;
    }),
  );
  fc.assert(
    fc.property(bodies, (body) => {
      for (const parse of [decodeClientEvidence, decodeVerdict]) {
        try {
          parse(body);
        } catch (e) {
          expect(e).toBeInstanceOf(AtlsError);
          expect((e as AtlsError).code).toBe("PROTOCOL_VIOLATION");
        }
      }
    }),
    { numRuns: fuzzRuns() },
  );
});

test("readFrame on random streams settles with a typed error or a frame, never hangs", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 6 }),
      fc.boolean(),
      async (chunks, end) => {
        const s = new PassThrough();
        const p = readFrame(s, {
          type: ATLS_FRAME_TYPE.CLIENT_EVIDENCE,
          maxBody: 256,
          timeoutMs: 20,
          tooLargeCode: "EVIDENCE_TOO_LARGE",
          what: "client evidence",
          trailing: "reject",
        });
        for (const c of chunks) s.write(Buffer.from(c));
        if (end) s.end();
        try {
          await p;
        } catch (e) {
          expect(e).toBeInstanceOf(AtlsError);
          expect(CODES).toContain((e as AtlsError).code);
        }
      },
    ),
    { numRuns: Math.min(fuzzRuns(), 200) },
  );
});
