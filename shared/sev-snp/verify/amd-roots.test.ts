import { describe, expect, test } from "bun:test";
import { certificatesFromPemOrDer, checkValidity, verifyIssuedBy } from "@asterism/pki";
import { readTestdata } from "@asterism/testing";
import { PRODUCTS } from "../abi/product.ts";
import { builtInAmdRoots } from "./chain.ts";

const TRUST = ["external", "go-sev-guest", "trust"];
const FILES = {
  milan: ["ask_ark_milan.pem", "ask_ark_milan_vlek.pem"],
  genoa: ["ask_ark_genoa.pem", "ask_ark_genoa_vlek.pem"],
  turin: ["ask_ark_turin_vcek.pem", "ask_ark_turin_vlek.pem"],
} as const;

describe("built-in AMD roots", () => {
  test.each(PRODUCTS)(
    "%s: byte-identical to KDS's chains, ARK self-signed, ASK and ASVK signed by it",
    async (p) => {
      const roots = builtInAmdRoots()[p];
      if (!roots?.ask || !roots.asvk) throw new Error(`missing roots for ${p}`);
      const [vcekChain, vlekChain] = await Promise.all(FILES[p].map((f) => readTestdata(...TRUST, f)));
      const [ask, ark] = certificatesFromPemOrDer(vcekChain as Uint8Array);
      const [asvk, ark2] = certificatesFromPemOrDer(vlekChain as Uint8Array);
      expect(roots.ark.der).toEqual(ark as Uint8Array);
      expect(roots.ark.der).toEqual(ark2 as Uint8Array);
      expect(roots.ask.der).toEqual(ask as Uint8Array);
      expect(roots.asvk.der).toEqual(asvk as Uint8Array);
      await verifyIssuedBy(roots.ark, roots.ark);
      await verifyIssuedBy(roots.ask, roots.ark);
      await verifyIssuedBy(roots.asvk, roots.ark);
      for (const c of [roots.ark, roots.ask, roots.asvk]) checkValidity(c, new Date("2026-01-01T00:00:00Z"));
    },
  );

  test("the Milan ARK is the one in Constellation's certchain.pem (constellation VECTORS.md V1)", async () => {
    const [, ark] = certificatesFromPemOrDer(
      await readTestdata("constellation", "internal", "attestation", "snp", "testdata", "certchain.pem"),
    );
    expect(builtInAmdRoots().milan?.ark.der).toEqual(ark as Uint8Array);
  });
});
