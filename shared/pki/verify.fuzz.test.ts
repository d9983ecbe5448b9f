import { beforeAll, describe, expect, test } from "bun:test";
import { bytesEqual } from "@asterism/bytes";
import {
  applyMutations,
  fuzzRuns,
  fuzzTimeout,
  onlyTyped,
  onlyTypedAsync,
  readTestdata,
} from "@asterism/testing";
import fc from "fast-check";
import {
  type Certificate,
  certificatesFromPemOrDer,
  children,
  decodeOid,
  decodeUnsigned,
  PkiError,
  parseCertificate,
  parseCrl,
  parseDer,
  type SignatureScheme,
  verifyCrl,
  verifyIssuedBy,
  verifySignature,
} from "./index.ts";

/**
 * The DER primitives every certificate, CRL and extension parser stands on, and the signature checks an
 * attacker's certificates and CRLs go through. Random and mutated input only raises PkiError; a changed
 * certificate or CRL never verifies.
 */

const edit = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("xor" as const, "set" as const, "insert" as const, "delete" as const),
  byte: fc.integer({ min: 0, max: 255 }),
});
const edits = fc.array(edit, { minLength: 1, maxLength: 3 });

/** Random bytes that often look like DER: a plausible tag, then a length that may lie. */
const derish = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc
    .tuple(
      fc.constantFrom(
        0x02,
        0x03,
        0x04,
        0x05,
        0x06,
        0x0c,
        0x13,
        0x16,
        0x17,
        0x18,
        0x30,
        0x31,
        0xa0,
        0xa3,
        0x1f,
        0xff,
      ),
      fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.constantFrom(0x80, 0x81, 0x82, 0x84, 0x88, 0xff)),
      fc.uint8Array({ maxLength: 64 }),
    )
    .map(([t, l, rest]) => new Uint8Array([t, l, ...rest])),
);

describe("DER primitives", () => {
  test("parseDer, children, decodeOid and decodeUnsigned only throw PkiError DER_INVALID", () => {
    fc.assert(
      fc.property(derish, (b) => {
        for (const f of [
          () => parseDer(b),
          () => children(parseDer(b)),
          () => decodeOid(parseDer(b)),
          () => decodeUnsigned(parseDer(b), "fuzz"),
          () => children(parseDer(b)).map((c) => decodeOid(c)),
        ]) {
          const code = onlyTyped([PkiError], f);
          if (code !== undefined) expect(code).toBe("DER_INVALID");
        }
      }),
      { numRuns: fuzzRuns() },
    );
  });

  test("decodeOid round-trips the dotted form of any OID it accepts (no two encodings of one OID)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 12 }), (content) => {
        const tlv = { tag: 0x06, value: content, raw: new Uint8Array([0x06, content.length, ...content]) };
        let oid: string;
        try {
          oid = decodeOid(tlv);
        } catch (e) {
          expect(e).toBeInstanceOf(PkiError);
          return;
        }
        // Re-encode (X.690 §8.19) and compare: minimal base-128 arcs, first two arcs combined.
        const arcs = oid.split(".").map(BigInt);
        const first = (arcs[0] as bigint) * 40n + (arcs[1] as bigint);
        const out: number[] = [];
        for (const arc of [first, ...arcs.slice(2)]) {
          const groups: number[] = [];
          let x = arc;
          do {
            groups.unshift(Number(x & 0x7fn));
            x >>= 7n;
          } while (x > 0n);
          out.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
        }
        expect(bytesEqual(new Uint8Array(out), content)).toBe(true);
      }),
      { numRuns: fuzzRuns() },
    );
  });
});

let vcekDer: Uint8Array;
let ask: Certificate;
let intelRoot: Certificate;
let rootCrlDer: Uint8Array;
beforeAll(async () => {
  vcekDer = await readTestdata("external", "go-sev-guest", "vcek.testcer");
  const chain = certificatesFromPemOrDer(
    await readTestdata("external", "go-sev-guest", "trust", "ask_ark_milan.pem"),
  );
  ask = parseCertificate(chain[0] as Uint8Array);
  intelRoot = parseCertificate(
    certificatesFromPemOrDer(
      await readTestdata("external", "go-tdx-guest", "trusted_root.pem"),
    )[0] as Uint8Array,
  );
  rootCrlDer = await readTestdata("external", "go-tdx-guest", "collateral", "rootcrl.der");
});
/** Inside the Intel root CRL's validity (external VECTORS.md: 2023-04-03 → 2024-04-02). */
const CRL_NOW = new Date("2023-07-01T00:00:00Z");

describe("signature checks on attacker-supplied certificates and CRLs", () => {
  test(
    "verifyIssuedBy: a mutated VCEK never verifies under the real ASK; only PkiError",
    async () => {
      await verifyIssuedBy(parseCertificate(vcekDer), ask); // not vacuous
      await fc.assert(
        fc.asyncProperty(edits, async (e) => {
          const m = applyMutations(vcekDer, e);
          const code = await onlyTypedAsync([PkiError], async () => verifyIssuedBy(parseCertificate(m), ask));
          if (!bytesEqual(m, vcekDer)) expect(code).toBeDefined();
        }),
        { numRuns: fuzzRuns(200) },
      );
    },
    fuzzTimeout(20_000),
  );

  test(
    "verifyCrl: a mutated Intel root CRL never verifies; only PkiError",
    async () => {
      await verifyCrl(parseCrl(rootCrlDer), intelRoot, CRL_NOW); // not vacuous
      await fc.assert(
        fc.asyncProperty(edits, async (e) => {
          const m = applyMutations(rootCrlDer, e);
          const code = await onlyTypedAsync([PkiError], async () =>
            verifyCrl(parseCrl(m), intelRoot, CRL_NOW),
          );
          if (!bytesEqual(m, rootCrlDer)) expect(code).toBeDefined();
        }),
        { numRuns: fuzzRuns(200) },
      );
    },
    fuzzTimeout(20_000),
  );

  test(
    "verifySignature: random keys, schemes and signatures give a boolean or PkiError, never a DOMException",
    async () => {
      const schemes: SignatureScheme[] = [
        { kind: "ecdsa", hash: "SHA-384" },
        { kind: "ecdsa", hash: "SHA-256" },
        { kind: "rsa-pkcs1", hash: "SHA-256" },
        { kind: "rsa-pss", hash: "SHA-384", saltLength: 48 },
      ];
      const vcek = parseCertificate(vcekDer);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            edits.map((e) => applyMutations(vcek.spki, e)),
            fc.constant(vcek.spki),
            fc.constant(ask.spki),
          ),
          fc.constantFrom(...schemes),
          fc.oneof(fc.constant(vcek.tbs), fc.uint8Array({ maxLength: 64 })),
          fc.oneof(fc.constant(vcek.signatureValue), fc.uint8Array({ maxLength: 600 })),
          async (spki, scheme, data, sig) => {
            let out: boolean | undefined;
            await onlyTypedAsync([PkiError], async () => {
              out = await verifySignature(spki, scheme, data, sig);
            });
            if (out === true) {
              // Only the genuine (key, data, signature) triple may verify.
              expect(bytesEqual(spki, ask.spki) && bytesEqual(data, vcek.tbs)).toBe(true);
            }
          },
        ),
        { numRuns: fuzzRuns(200) },
      );
    },
    fuzzTimeout(20_000),
  );
});
