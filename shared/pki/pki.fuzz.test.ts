import { expect, test } from "bun:test";
import { fuzzRuns, readTestdata } from "@asterism/testing";
import fc from "fast-check";
import { PkiError, parseCertificate, parseCrl, parsePem } from "./index.ts";

const PARSE_CODES = new Set([
  "DER_INVALID",
  "CERT_INVALID",
  "CRL_INVALID",
  "PEM_INVALID",
  "UNSUPPORTED_ALGORITHM",
]);

function onlyTyped(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PkiError);
    expect(PARSE_CODES.has((e as PkiError).code)).toBe(true);
  }
}

test("parseCertificate: mutated real VCEK only throws PkiError", async () => {
  const vcek = await readTestdata("external", "go-sev-guest", "vcek.testcer");
  fc.assert(
    fc.property(
      fc.nat(vcek.length - 1),
      fc.integer({ min: 1, max: 255 }),
      fc.nat(vcek.length),
      (i, x, cut) => {
        const m = vcek.slice();
        m[i] = (m[i] as number) ^ x;
        onlyTyped(() => parseCertificate(m));
        onlyTyped(() => parseCertificate(m.subarray(0, cut)));
      },
    ),
    { numRuns: fuzzRuns() },
  );
});

test("parseCertificate / parseCrl / parsePem: random input only throws PkiError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.string({ maxLength: 300 }), (b, s) => {
      onlyTyped(() => parseCertificate(b));
      onlyTyped(() => parseCrl(b));
      onlyTyped(() => parsePem(s));
      onlyTyped(() => parsePem(`-----BEGIN CERTIFICATE-----\n${s}\n-----END CERTIFICATE-----\n`));
    }),
    { numRuns: fuzzRuns() },
  );
});
