import { beforeAll, describe, expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { makeCsr, seededBytes, TEST_NOW } from "./_test-helpers.ts";
import { type CertificateAuthority, generateCa } from "./ca.ts";
import { parseCsr } from "./csr.ts";
import { CsrError, CsrPolicyError } from "./errors.ts";
import { issueKubeletCertificate } from "./kubelet-cert.ts";

const deps = { now: () => TEST_NOW, randomBytes: seededBytes(11) };
const identity = { nodeName: "worker-1", ips: ["10.0.0.5"], role: "worker" as const };
let ca: CertificateAuthority;
let valid: Uint8Array;

beforeAll(async () => {
  ca = await generateCa({ commonName: "kubernetes" }, deps);
  valid = await makeCsr({ dns: ["worker-1"], ips: ["10.0.0.5"] });
});

/** Mutations of a valid CSR: flip, overwrite, insert, delete, truncate. */
const mutated = () =>
  fc
    .array(
      fc.tuple(
        fc.constantFrom("flip", "set", "insert", "delete", "truncate"),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((ops) => {
      let b = Array.from(valid);
      for (const [op, pos, val] of ops) {
        const i = b.length === 0 ? 0 : pos % b.length;
        if (op === "flip") b[i] = (b[i] ?? 0) ^ (1 << (val % 8));
        else if (op === "set") b[i] = val;
        else if (op === "insert") b.splice(i, 0, val);
        else if (op === "delete") b.splice(i, 1);
        else b = b.slice(0, i);
      }
      return new Uint8Array(b);
    });

function onlyTyped(e: unknown): void {
  if (!(e instanceof CsrError || e instanceof CsrPolicyError)) throw e;
  expect(typeof e.code).toBe("string");
}

describe("CSR parser wrapper (fuzz)", () => {
  test("random bytes only ever raise CsrError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => {
        try {
          parseCsr(b);
        } catch (e) {
          onlyTyped(e);
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("DER-looking random input (SEQUENCE headers) only ever raises CsrError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (body) => {
        const len = body.length;
        const hdr = len < 0x80 ? [0x30, len] : [0x30, 0x82, len >> 8, len & 0xff];
        try {
          parseCsr(new Uint8Array([...hdr, ...body]));
        } catch (e) {
          onlyTyped(e);
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("mutated valid CSRs: issuance throws only typed errors, and never signs a changed request", async () => {
    await fc.assert(
      fc.asyncProperty(mutated(), async (der) => {
        try {
          const c = await issueKubeletCertificate({ csr: der, identity, usages: ["client"], ca }, deps);
          // A mutation can only succeed if it left the signed content intact (e.g. re-encoded the same value).
          expect(c.cert.subject).toBe("CN=system:node:worker-1, O=system:nodes");
        } catch (e) {
          onlyTyped(e);
        }
      }),
      { numRuns: fuzzRuns(200) },
    );
  });
});
