import { beforeAll, describe, expect, test } from "bun:test";
import { fuzzRuns, fuzzTimeout, onlyTyped, onlyTypedAsync } from "@asterism/testing";
import fc from "fast-check";
import { makeCsr } from "./_test-helpers.ts";
import { parseCsr, verifyCsr } from "./csr.ts";
import { CsrError, CsrPolicyError, JoinPolicyError, TokenError } from "./errors.ts";
import { canonicalIp, checkAttestedIdentity } from "./identity.ts";
import { validateKubeletCsr } from "./kubelet-cert.ts";
import { parseBootstrapToken } from "./token.ts";

/**
 * What a joining node sends besides its evidence: its CSR (subject and SANs it chooses) and, on the wire
 * back, bootstrap tokens. The kubelet CSR policy must accept exactly the attested name and addresses.
 */

describe("bootstrap tokens", () => {
  test("parseBootstrapToken: arbitrary strings only throw TokenError; accepted ones match the format", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.stringMatching(/^[a-z0-9]{6}\.[a-z0-9]{16}$/),
          fc.stringMatching(/^[a-zA-Z0-9.]{20,26}$/),
        ),
        (s) => {
          const code = onlyTyped([TokenError], () => parseBootstrapToken(s));
          if (code === undefined) expect(s).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("attested identities", () => {
  test("checkAttestedIdentity: arbitrary identities only throw JoinPolicyError", () => {
    fc.assert(
      fc.property(
        fc.record({
          nodeName: fc.oneof(fc.domain(), fc.string({ maxLength: 300 }), fc.anything()),
          ips: fc.oneof(
            fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 50 })), { maxLength: 20 }),
            fc.anything(),
          ),
          role: fc.oneof(fc.constantFrom("worker", "control-plane"), fc.string(), fc.anything()),
        }),
        (id) => {
          onlyTyped([JoinPolicyError], () => checkAttestedIdentity(id as never));
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("kubelet CSR policy", () => {
  let keys: CryptoKeyPair;
  beforeAll(async () => {
    keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
  });
  const identity = checkAttestedIdentity({
    nodeName: "worker-1",
    ips: ["10.0.0.5", "fd00::5"],
    role: "worker",
  });

  const name = fc.constantFrom("worker-1", "worker-2", "Worker-1", "worker-1.", "control-plane-0", "");
  const subject = fc.oneof(
    name.map((n) => `CN=system:node:${n}, O=system:nodes`),
    name.map((n) => `CN=system:node:${n}, O=system:masters`),
    name.map((n) => `CN=system:node:${n}`),
    name.map((n) => `CN=system:node:${n}, O=system:nodes, OU=x`),
    name.map((n) => `CN=${n}, O=system:nodes`),
  );
  const ips = fc.array(fc.constantFrom("10.0.0.5", "10.0.0.6", "fd00::5", "::ffff:10.0.0.5", "127.0.0.1"), {
    maxLength: 3,
  });

  test(
    "accepted CSRs carry exactly the attested name and only attested addresses; others get coded errors",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          subject,
          fc.array(name, { maxLength: 2 }),
          ips,
          fc.array(fc.constantFrom("a@b.c"), { maxLength: 1 }),
          async (subj, dns, ipList, emails) => {
            const der = await makeCsr({ subject: subj, dns, ips: ipList, emails, keys });
            const code = await onlyTypedAsync([CsrError, CsrPolicyError], async () =>
              validateKubeletCsr(await verifyCsr(parseCsr(der)), identity),
            );
            if (code === undefined) {
              expect(subj).toBe("CN=system:node:worker-1, O=system:nodes");
              expect(dns.every((d) => d === "worker-1")).toBe(true);
              expect(ipList.every((ip) => identity.canonicalIps.has(canonicalIp(ip) ?? ""))).toBe(true);
              expect(emails).toEqual([]);
            }
          },
        ),
        { numRuns: fuzzRuns(150) },
      );
    },
    fuzzTimeout(30_000),
  );
});
