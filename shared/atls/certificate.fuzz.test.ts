import { expect, test } from "bun:test";
import { fuzzRuns } from "@asterism/testing";
import fc from "fast-check";
import { checkPeerCertificate, generateCertificateKey, mintCertificate } from "./certificate.ts";
import { AtlsError } from "./errors.ts";
import { selectEvidence } from "./evidence.ts";

const NOW = new Date("2026-11-25T00:00:00Z");

test("random and mutated certificates only ever throw AtlsError", async () => {
  const minted = await mintCertificate(await generateCertificateKey(), {
    now: NOW,
    extensions: [{ oid: "1.3.9900.5.1", value: new TextEncoder().encode('{"x":1}') }],
  });
  const inputs = fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc
      .tuple(fc.nat(minted.der.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(3))
      .map(([i, b, extra]) => {
        const m = minted.der.slice();
        m[i] = b;
        const j = Math.min(m.length - 1, i + extra);
        if (extra > 0) m[j] = (m[j] ?? 0) ^ 0x80;
        return m;
      }),
    fc.nat(minted.der.length).map((n) => minted.der.slice(0, n)),
  );
  await fc.assert(
    fc.asyncProperty(inputs, async (der) => {
      try {
        const c = await checkPeerCertificate(der, { now: NOW, understoodOids: new Set(["1.3.9900.5.1"]) });
        // Whatever passed must still go through the evidence rules without a foreign exception.
        selectEvidence(c.extensions, new Map(), 1024);
      } catch (e) {
        expect(e).toBeInstanceOf(AtlsError);
      }
    }),
    { numRuns: fuzzRuns() },
  );
});
