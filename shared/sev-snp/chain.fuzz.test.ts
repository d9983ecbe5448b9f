import { beforeAll, describe, expect, test } from "bun:test";
import { bytesEqual } from "@asterism/bytes";
import { certificatesFromPemOrDer, importVerifyKey, PkiError, parseCertificate } from "@asterism/pki";
import { applyMutations, fuzzRuns, fuzzTimeout, onlyTyped, onlyTypedAsync } from "@asterism/testing";
import fc from "fast-check";
import { decodePlatformInfo } from "./abi/policy.ts";
import { PRODUCTS } from "./abi/product.ts";
import { parseReport, SIGNED_SIZE } from "./abi/report.ts";
import { decodeTcb } from "./abi/tcb.ts";
import { KdsError, SnpParseError, SnpPolicyError, SnpVerifyError } from "./errors.ts";
import { parseKdsBundle } from "./kds/bundle.ts";
import { parseSnpPolicy } from "./validate/policy.ts";
import { validateSnpReport } from "./validate/validate.ts";
import { vectors } from "./vectors.test-helper.ts";
import { parseAmdEndorsementKey } from "./verify/amd-cert.ts";
import { parseAmdChain } from "./verify/chain.ts";
import { verifyReportSignature } from "./verify/report-signature.ts";
import { createSnpVerifier, verifySnpReport } from "./verify/verifier.ts";

/**
 * The SEV-SNP inputs an attacker controls besides the report bytes (snp.fuzz.test.ts): the supplied
 * VCEK/VLEK and ASK/ARK chain, offline KDS bundles, and whole reports through the verifier. Random and
 * mutated input only ever raises the module's coded errors, and a mutated report or key never verifies.
 */

const edit = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("xor" as const, "set" as const, "insert" as const, "delete" as const),
  byte: fc.integer({ min: 0, max: 255 }),
});
const edits = fc.array(edit, { minLength: 1, maxLength: 4 });

let report: Uint8Array;
let vcek: Uint8Array;
let chain: Uint8Array;
beforeAll(async () => {
  report = await vectors.gsg.report();
  vcek = await vectors.gsg.vcek();
  chain = await vectors.gsg.chain();
});
const now = vectors.gsg.now;

describe("supplied certificates", () => {
  test("parseAmdChain: mutated real ASK/ARK PEM and random bytes only throw SnpVerifyError", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          edits.map((e) => applyMutations(chain, e)),
          fc.uint8Array({ maxLength: 600 }),
        ),
        fc.constantFrom(...PRODUCTS),
        (input, product) => {
          onlyTyped([SnpVerifyError], () => parseAmdChain(input, product));
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("parseAmdEndorsementKey: mutated real VCEKs that still parse as X.509 only throw SnpVerifyError", () => {
    fc.assert(
      fc.property(edits, (e) => {
        const m = applyMutations(vcek, e);
        let cert: ReturnType<typeof parseCertificate>;
        try {
          cert = parseCertificate(certificatesFromPemOrDer(m)[0] ?? m);
        } catch (err) {
          expect(err).toBeInstanceOf(PkiError);
          return;
        }
        onlyTyped([SnpVerifyError], () => parseAmdEndorsementKey(cert));
      }),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("whole reports through the verifier", () => {
  const verifier = createSnpVerifier();

  test(
    "a mutated report, VCEK or chain never verifies and only throws SnpParseError / SnpVerifyError",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom("report", "vcek", "chain"), edits, async (which, e) => {
          const evidence = {
            report: which === "report" ? applyMutations(report, e) : report,
            endorsementKey: which === "vcek" ? applyMutations(vcek, e) : vcek,
            chain: which === "chain" ? applyMutations(chain, e) : chain,
          };
          const changed =
            !bytesEqual(evidence.report, report) ||
            !bytesEqual(evidence.endorsementKey, vcek) ||
            !bytesEqual(evidence.chain, chain);
          // A fresh verifier for key/chain mutations: the cache must not mask a changed certificate.
          const v = which === "report" ? verifier : createSnpVerifier();
          const code = await onlyTypedAsync([SnpParseError, SnpVerifyError], () =>
            v.verify(evidence, { now }),
          );
          // PEM chains tolerate edits outside the base64 blocks (comments, whitespace): those still verify.
          if (which !== "chain" && changed) expect(code).toBeDefined();
        }),
        { numRuns: fuzzRuns(100) },
      );
    },
    fuzzTimeout(30_000),
  );

  test("verifyReportSignature: a report with any changed signed byte never verifies", async () => {
    const key = (await verifier.verify({ report, endorsementKey: vcek, chain }, { now })).endorsementKey;
    expect(key.kind).toBe("vcek");
    const cryptoKey = await importVerifyKey(
      parseCertificate(certificatesFromPemOrDer(vcek)[0] as Uint8Array).spki,
      { kind: "ecdsa", hash: "SHA-384" },
    );
    await fc.assert(
      fc.asyncProperty(fc.nat(SIGNED_SIZE - 1), fc.integer({ min: 1, max: 255 }), async (i, x) => {
        const m = report.slice();
        m[i] = (m[i] as number) ^ x;
        let parsed: ReturnType<typeof parseReport>;
        try {
          parsed = parseReport(m);
        } catch (e) {
          expect(e).toBeInstanceOf(SnpParseError);
          return;
        }
        const code = await onlyTypedAsync([SnpVerifyError], () => verifyReportSignature(parsed, cryptoKey));
        expect(["REPORT_SIGNATURE_INVALID", "UNSUPPORTED_SIGNATURE_ALGO"]).toContain(code as string);
      }),
      { numRuns: fuzzRuns(200) },
    );
  });

  test("validateSnpReport: random policies over the verified report give a verdict, never a crash", async () => {
    const verified = await verifier.verify({ report, endorsementKey: vcek, chain }, { now });
    const h = (n: number) =>
      fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString("hex"));
    const policy = fc.record(
      {
        product: fc.constantFrom(...PRODUCTS),
        measurement: h(48),
        reportData: h(64),
        hostData: h(32),
        minimumTcb: fc.record({
          bootloader: fc.nat(255),
          tee: fc.nat(255),
          snp: fc.nat(255),
          microcode: fc.nat(255),
        }),
        minimumGuestSvn: fc.nat(),
        allowDebug: fc.boolean(),
        requireIdBlock: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(policy, (p) => {
        let parsed: ReturnType<typeof parseSnpPolicy>;
        try {
          parsed = parseSnpPolicy(p);
        } catch (e) {
          expect(e).toBeInstanceOf(SnpPolicyError);
          return;
        }
        const r = validateSnpReport(verified, parsed);
        expect(typeof r.valid).toBe("boolean");
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("the unmutated evidence verifies (the property above is not vacuous)", async () => {
    const v = await verifySnpReport({ report, endorsementKey: vcek, chain }, { now });
    expect(v.signer).toBe("vcek");
  });
});

describe("TCB and platform words", () => {
  test("decodeTcb over any u64 and product: parts or RESERVED_NONZERO", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.constantFrom(...PRODUCTS),
        (raw, product) => {
          const code = onlyTyped([SnpParseError], () => decodeTcb(raw, product));
          if (code !== undefined) expect(code).toBe("RESERVED_NONZERO");
        },
      ),
      { numRuns: fuzzRuns() },
    );
  });

  test("decodePlatformInfo is total over u64", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (raw) => {
        expect(Object.values(decodePlatformInfo(raw)).every((b) => typeof b === "boolean")).toBe(true);
      }),
      { numRuns: fuzzRuns() },
    );
  });
});

describe("offline KDS bundles", () => {
  const bundleLike = fc.record(
    {
      format: fc.oneof(fc.constant("asterism.kds-bundle.v1"), fc.string()),
      entries: fc.oneof(
        fc.dictionary(
          fc.string({ maxLength: 40 }),
          fc.oneof(fc.base64String({ maxLength: 40 }), fc.string(), fc.anything()),
        ),
        fc.anything(),
      ),
    },
    { requiredKeys: [] },
  );

  test("parseKdsBundle: arbitrary JSON values only throw KdsError BUNDLE_INVALID", () => {
    fc.assert(
      fc.property(fc.oneof(bundleLike, fc.jsonValue(), fc.anything()), (json) => {
        const code = onlyTyped([KdsError], () => parseKdsBundle(json));
        if (code !== undefined) expect(code).toBe("BUNDLE_INVALID");
      }),
      { numRuns: fuzzRuns() },
    );
  });
});
