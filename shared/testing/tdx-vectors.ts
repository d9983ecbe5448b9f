/**
 * Test-only: builds collateral JSON objects from the shared go-tdx-guest vectors at test time (the
 * vectors are never copied into the repo). Not exported from index.ts.
 */
import { toHex } from "@asterism/bytes";
import type { Collateral } from "@asterism/tdx";
import { readTestdata } from "./testdata.ts";

const DIR = ["external", "go-tdx-guest"] as const;

async function text(...p: string[]): Promise<string> {
  return new TextDecoder().decode(await readTestdata(...DIR, ...p));
}

function signatureOf(body: string): string {
  const s = (JSON.parse(body) as { signature?: unknown }).signature;
  if (typeof s !== "string") throw new Error("vector has no signature member");
  return s;
}

/**
 * The vector's `pck_crl_issuer_chain.pem` holds two chains back to back (PCK Platform CA, root, TCB
 * Signing, root: go-tdx-guest's test header string). PCS sends only the first; the verifier is strict
 * about chain shape, so the fixture keeps the first two certificates and says so here.
 */
function firstChain(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return `${blocks.slice(0, 2).join("\n")}\n`;
}

/** Quote files and their stated verification times (VECTORS.md §2.1, §4.2). */
export const TDX_VECTOR = {
  v4: { quote: "tdx_prod_quote_SPR_E4.dat", now: new Date("2023-07-01T01:00:00Z") },
  v5: { quote: "quote_v5_sample.dat", now: new Date("2026-02-03T01:00:00Z") },
  /** cos-113: VECTORS.md states no time; its PCK is valid 2024-07-02 → 2031-07-02, pinned inside. */
  ccel: { quote: "ccel/cos-113-tdx-quote.dat", now: new Date("2025-01-01T00:00:00Z") },
  /** VECTORS.md: the 2053 negative time. */
  future: new Date("2053-07-01T01:00:00Z"),
} as const;

/** Bytes of a go-tdx-guest vector. */
export function readTdxVector(...p: string[]): Promise<Uint8Array> {
  return readTestdata(...DIR, ...p);
}

/**
 * The collateral JSON object for the v4 (`sample_tcbInfo_response`) or v5
 * (`sample_tcbinfo_response_v5`) TCB info; QE identity, CRLs and chains are the set's only ones.
 */
export async function tdxCollateralFixture(which: "v4" | "v5"): Promise<Collateral> {
  const tcbInfo = await text(
    "collateral",
    which === "v4" ? "sample_tcbInfo_response" : "sample_tcbinfo_response_v5",
  );
  const qeIdentity = await text("collateral", "sample_qeIdentity_response");
  return {
    tcb_info: tcbInfo,
    tcb_info_signature: signatureOf(tcbInfo),
    tcb_info_issuer_chain: await text("collateral", "tcb_info_issuer_chain.pem"),
    qe_identity: qeIdentity,
    qe_identity_signature: signatureOf(qeIdentity),
    qe_identity_issuer_chain: await text("collateral", "qe_identity_issuer_chain.pem"),
    pck_crl: toHex(await readTestdata(...DIR, "collateral", "pckcrl")),
    pck_crl_issuer_chain: firstChain(await text("collateral", "pck_crl_issuer_chain.pem")),
    root_ca_crl: toHex(await readTestdata(...DIR, "collateral", "rootcrl.der")),
  };
}
