/**
 * Mutated client certificates through the parsing half of the peer check (strict DER parser plus the
 * SAN/EKU readers): only PkiError, never anything else, and never a hang.
 */
import { describe, expect, test } from "bun:test";
import { certificatesFromPemOrDer, PkiError, parseCertificate } from "@asterism/pki";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { extendedKeyUsages, sanUris } from "./extensions.ts";
import { createClusterCa, issueServiceCertificate } from "./index.ts";

const now = new Date();
const ca = await createClusterCa({ now });
const leaf = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
const der = certificatesFromPemOrDer(new TextEncoder().encode(leaf.certPem))[0]!;

describe("service certificate parsing fuzz", () => {
  test("the genuine certificate reads back its identity and EKU", () => {
    const cert = parseCertificate(der);
    expect(sanUris(cert)).toEqual(["asterism://join-service"]);
    expect(extendedKeyUsages(cert)).toEqual(["1.3.6.1.5.5.7.3.2"]);
  });

  test("byte flips, truncations and random bytes → result or PkiError", () => {
    const input = fc.oneof(
      fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
        const b = der.slice();
        b[i]! ^= x;
        return b;
      }),
      fc.nat(der.length).map((n) => der.slice(0, n)),
      fc.uint8Array({ maxLength: 600 }),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        try {
          const cert = parseCertificate(bytes);
          sanUris(cert);
          extendedKeyUsages(cert);
        } catch (err) {
          expect(err).toBeInstanceOf(PkiError);
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
