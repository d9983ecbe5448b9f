import { describe, expect, test } from "bun:test";
import { AttestationParseError, AttestationPolicyError, AttestationVerifyError } from "@asterism/attestation";
import { toBase64, utf8 } from "@asterism/bytes";
import { createMeasurements, MeasurementMismatchError, MeasurementsParseError } from "@asterism/measurements";
import { fuzzRuns, fuzzTimeout, onlyTyped, onlyTypedAsync } from "@asterism/testing";
import fc from "fast-check";
import { LifecycleError, NodeIdentityError } from "./errors.ts";
import { encodeNodeIdentity, parseNodeIdentity } from "./identity.ts";
import { parseComponentsObject, parseJoinConfigObject } from "./join-config.ts";
import { parseTpmSpec } from "./tpm.ts";
import { verifyNode } from "./verify-client.ts";

/**
 * What a node and the CLI read from others: the identity event in a peer's event log, stored cluster
 * objects (join config, components), the ASTERISM_TPM setting, and a VerificationService's answer.
 */
const ATTESTATION = [
  AttestationParseError,
  AttestationVerifyError,
  AttestationPolicyError,
  MeasurementMismatchError,
];

describe("node identity events", () => {
  const identity = fc.record({
    name: fc.oneof(fc.domain(), fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), fc.string({ maxLength: 30 })),
    role: fc.oneof(fc.constantFrom("worker", "control-plane"), fc.string({ maxLength: 10 })),
    ips: fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 20 })), { maxLength: 18 }),
  });

  test("parseNodeIdentity: random bytes and JSON only throw NodeIdentityError; accepted input is canonical", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.jsonValue().map((j) => utf8(JSON.stringify(j))),
          identity.map((i) => utf8(JSON.stringify({ asterism: "node-identity", v: 1, ...i }))),
          identity.map((i) => utf8(JSON.stringify({ v: 1, asterism: "node-identity", ...i }, null, 1))),
        ),
        (b) => {
          let id: ReturnType<typeof parseNodeIdentity> | undefined;
          onlyTyped([NodeIdentityError], () => {
            id = parseNodeIdentity(b);
          });
          if (id) expect(encodeNodeIdentity(id)).toEqual(b);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("stored cluster objects", () => {
  const obj = (data: Record<string, Uint8Array>) => ({
    kind: "config" as const,
    name: "join-config",
    data,
    resourceVersion: "1",
  });

  test("parseJoinConfigObject: random data only throws LifecycleError or the policy parser's errors", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom("attestationPolicy", "measurementSalt", "other"),
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            fc.jsonValue().map((j) => utf8(JSON.stringify(j))),
            fc.constant(utf8(JSON.stringify({ measurements: { "4": "00".repeat(32) } }))),
          ),
        ),
        (data) => {
          onlyTyped([LifecycleError, AttestationParseError, MeasurementsParseError], () =>
            parseJoinConfigObject(obj(data) as never),
          );
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("parseComponentsObject: random data only throws LifecycleError", () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom("components", "kubernetesVersion"),
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            fc.jsonValue().map((j) => utf8(JSON.stringify(j))),
          ),
        ),
        (data) => {
          onlyTyped([LifecycleError], () => parseComponentsObject(obj(data) as never));
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("settings", () => {
  test("parseTpmSpec: only swtpm on loopback or a TPM device; anything else CONFIG_INVALID", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc
            .tuple(fc.constantFrom("127.0.0.1", "localhost", "[::1]", "10.0.0.1", "::1"), fc.nat(70000))
            .map(([h, p]) => `swtpm:${h}:${p}`),
          fc.nat(20).map((n) => `/dev/tpmrm${n}`),
        ),
        (s) => {
          let spec: ReturnType<typeof parseTpmSpec> | undefined;
          const code = onlyTyped([LifecycleError], () => {
            spec = parseTpmSpec(s);
          });
          if (code !== undefined) expect(code).toBe("CONFIG_INVALID");
          if (spec?.kind === "swtpm") {
            expect(["127.0.0.1", "localhost", "::1"]).toContain(spec.host);
            expect(spec.port).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("verifyNode against a hostile VerificationService", () => {
  test(
    "random statuses and bodies only give LifecycleError or the validator's coded errors",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(200, 200, 200, 400, 403, 500, 503, 302),
          fc.oneof(
            fc.jsonValue().map((j) => JSON.stringify(j)),
            fc.string({ maxLength: 100 }),
            fc.uint8Array({ maxLength: 200 }).map((b) => JSON.stringify({ data: toBase64(b) })),
            fc.jsonValue().map((j) => JSON.stringify({ data: toBase64(utf8(JSON.stringify(j))) })),
            fc
              .record({ code: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 40 }) })
              .map((e) => JSON.stringify(e)),
          ),
          async (status, body) => {
            await onlyTypedAsync([LifecycleError, ...ATTESTATION], () =>
              verifyNode({
                url: "http://127.0.0.1:1",
                policy: { measurements: createMeasurements([]) },
                clusterId: new Uint8Array(32),
                fetch: async () =>
                  new Response(body, { status, headers: { "content-type": "application/json" } }),
              }),
            );
          },
        ),
        { numRuns: fuzzRuns(200) },
      );
    },
    fuzzTimeout(30_000),
  );
});
