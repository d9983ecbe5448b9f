import { expect, test } from "bun:test";
import { certificatesFromPemOrDer, type Extension, parseCertificate } from "@asterism/pki";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { parseReport, REPORT_SIZE } from "./abi/report.ts";
import { SnpParseError, SnpPolicyError, SnpVerifyError } from "./errors.ts";
import { parseSnpPolicy } from "./validate/policy.ts";
import { vectors } from "./vectors.test-helper.ts";
import { AMD_OID, parseAmdExtensions } from "./verify/amd-cert.ts";

const runs = { numRuns: fuzzRuns() };

function only<E extends new (...args: never[]) => Error>(cls: E, f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof cls)) throw e;
    expect(typeof (e as unknown as { code: unknown }).code).toBe("string");
  }
}

test("parseReport: mutated real reports only throw SnpParseError", async () => {
  const seeds = [await vectors.gsg.report(), await vectors.aws.report(), await vectors.oak.report()];
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(REPORT_SIZE - 1), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 8,
      }),
      fc.integer({ min: 0, max: REPORT_SIZE + 64 }),
      (which, flips, len) => {
        const m = (seeds[which] as Uint8Array).slice();
        for (const [i, x] of flips) m[i] = (m[i] as number) ^ x;
        only(SnpParseError, () => parseReport(m));
        const resized = new Uint8Array(len);
        resized.set(m.subarray(0, Math.min(len, m.length)));
        only(SnpParseError, () => parseReport(resized, { allowTrailing: true }));
      },
    ),
    runs,
  );
});

test("parseReport: random bytes only throw SnpParseError", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: REPORT_SIZE, maxLength: REPORT_SIZE }),
      fc.constantFrom(2, 3, 5),
      (b, v) => {
        b[0] = v;
        b[1] = 0;
        b[2] = 0;
        b[3] = 0;
        only(SnpParseError, () => parseReport(b));
      },
    ),
    runs,
  );
});

test("parseAmdExtensions: mutated and random extension values only throw SnpVerifyError", async () => {
  const real = certificatesFromPemOrDer(await vectors.gsg.vcek()).map(parseCertificate)[0]?.extensions ?? [];
  const oids = Object.values(AMD_OID);
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          oid: fc.constantFrom(...oids),
          critical: fc.boolean(),
          value: fc.uint8Array({ maxLength: 80 }),
        }),
        { maxLength: 14 },
      ),
      fc.nat(real.length),
      fc.constantFrom("SEV-VCEK", "SEV-VLEK", "other"),
      (random, keep, cn) => {
        const exts: Extension[] = [...real.slice(0, keep), ...random];
        only(SnpVerifyError, () => parseAmdExtensions(exts, cn));
      },
    ),
    runs,
  );
});

test("parseSnpPolicy: arbitrary JSON only throws SnpPolicyError", () => {
  fc.assert(
    fc.property(
      fc.jsonValue(),
      fc.dictionary(
        fc.constantFrom(
          "vmpl",
          "minimumTcb",
          "measurement",
          "reportData",
          "idKeyDigests",
          "platformInfoAllowed",
        ),
        fc.jsonValue(),
      ),
      (a, b) => {
        only(SnpPolicyError, () => parseSnpPolicy(a));
        only(SnpPolicyError, () => parseSnpPolicy(b));
      },
    ),
    runs,
  );
});
