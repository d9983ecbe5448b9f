/**
 * TDX quote verifications per second with collateral cached, against the raw ECDSA P-256 verifications
 * one quote needs, measured in the same run. Run: `bun bench/tdx.ts` (bounded to ~12 s).
 *
 * One full verification performs exactly 5 P-256 signature checks:
 *   1. quote signature (attestation key over header‖body)
 *   2. QE report signature (PCK leaf key)
 *   3. PCK leaf ← PCK Platform CA   4. PCK CA ← root   5. root copy in the quote ← trusted root
 * plus parsing, X.509 decoding, SHA-256 of the QE binding, SGX-extension decoding, CRL lookups and TCB
 * evaluation. Collateral (TCB info, QE identity, CRL signatures) is verified once and reused, as a
 * verifier with a cache does; its time windows are still re-checked per quote.
 *
 * Input: go-tdx-guest's SPR_E4 v4 quote and collateral at 2023-07-01, with TCB level 0's SVNs zeroed
 * exactly as the source's TestVerifyUsingTcbInfoV4 does (as shipped, the quote has no matching level).
 */
import "reflect-metadata";
import { toHex } from "@asterism/bytes";
import { createCertCache, loadTrustedRoot, parseQuote, verifyCollateral, verifyQuote } from "@asterism/tdx";
import { readTdxVector, TDX_VECTOR, tdxCollateralFixture } from "@asterism/testing";
import { X509Certificate } from "@peculiar/x509";
import { emit, figure } from "./harness.ts";

const PHASE_MS = Number(process.env["BENCH_PHASE_MS"] ?? 3000);
const SIGS_PER_QUOTE = 5;

async function rate(
  name: string,
  op: () => Promise<unknown> | unknown,
): Promise<{ name: string; opsPerSec: number; n: number }> {
  for (let i = 0; i < 20; i++) await op(); // warm-up
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < PHASE_MS) {
    for (let i = 0; i < 10; i++) await op();
    n += 10;
    elapsed = performance.now() - start;
  }
  return { name, opsPerSec: (n * 1000) / elapsed, n };
}

const now = TDX_VECTOR.v4.now;
const quoteBytes = await readTdxVector(TDX_VECTOR.v4.quote);
const root = loadTrustedRoot();
const verified = await verifyCollateral(await tdxCollateralFixture("v4"), { root, now });
const tcbInfo = structuredClone(verified.tcbInfo);
const level0 = tcbInfo.tcbLevels[0];
if (level0 === undefined) throw new Error("TCB info without levels");
for (const c of [...level0.tcb.sgxtcbcomponents, ...level0.tcb.tdxtcbcomponents]) c.svn = 0;
level0.tcb.pcesvn = 0;
const collateral = { ...verified, tcbInfo };
const check = await verifyQuote(quoteBytes, { now, root, collateral });
if (check.tcb?.status !== "UpToDate") throw new Error("bench input does not verify");

// The same five verifications with WebCrypto directly: keys imported once, DER signatures pre-converted.
const q = parseQuote(quoteBytes);
const certs = q.pckChain.map((d) => new X509Certificate(new Uint8Array(d)));
const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIG = { name: "ECDSA", hash: "SHA-256" } as const;
const spkiKey = (c: X509Certificate) =>
  crypto.subtle.importKey("spki", c.publicKey.rawData, EC, false, ["verify"]);
function derToRaw(der: ArrayBuffer): Uint8Array {
  const b = new Uint8Array(der);
  let i = 2;
  const part = () => {
    const len = b[i + 1] ?? 0;
    let v = b.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    while (v.length > 32 && v[0] === 0) v = v.subarray(1);
    const out = new Uint8Array(32);
    out.set(v, 32 - v.length);
    return out;
  };
  const r = part();
  const s = part();
  const out = new Uint8Array(64);
  out.set(r);
  out.set(s, 32);
  return out;
}
function tbsOf(c: X509Certificate): Uint8Array {
  // Certificate ::= SEQUENCE { tbsCertificate, ... }: the first element of the outer SEQUENCE.
  const b = new Uint8Array(c.rawData);
  const hdr = (at: number) => {
    const l = b[at + 1] ?? 0;
    if (l < 0x80) return { len: l, hl: 2 };
    const n = l & 0x7f;
    let len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + (b[at + 2 + k] ?? 0);
    return { len, hl: 2 + n };
  };
  const outer = hdr(0);
  const inner = hdr(outer.hl);
  return b.subarray(outer.hl, outer.hl + inner.hl + inner.len);
}
const attKey = await crypto.subtle.importKey("raw", new Uint8Array([4, ...q.attestationKey]), EC, false, [
  "verify",
]);
const [leaf, ca, rootCopy] = certs as [X509Certificate, X509Certificate, X509Certificate];
const jobs: [CryptoKey, Uint8Array, Uint8Array][] = [
  [attKey, q.signature, q.signedData],
  [await spkiKey(leaf), q.qeReportSignature, q.qeReportRaw],
  [await spkiKey(ca), derToRaw(leaf.signature), tbsOf(leaf)],
  [await spkiKey(rootCopy), derToRaw(ca.signature), tbsOf(ca)],
  [await spkiKey(root), derToRaw(rootCopy.signature), tbsOf(rootCopy)],
];
for (const [k, s, d] of jobs)
  if (!(await crypto.subtle.verify(SIG, k, s as Uint8Array<ArrayBuffer>, d as Uint8Array<ArrayBuffer>)))
    throw new Error("baseline signature does not verify");
let j = 0;
const raw = await rate("raw P-256 verify (WebCrypto, keys pre-imported)", () => {
  const [k, s, d] = jobs[j++ % jobs.length] as [CryptoKey, Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>];
  return crypto.subtle.verify(SIG, k, s, d);
});
const full = await rate("verifyQuote (collateral cached)", () =>
  verifyQuote(quoteBytes, { now, root, collateral }),
);
const certCache = createCertCache();
const cached = await rate("verifyQuote (collateral + cert cache)", () =>
  verifyQuote(quoteBytes, { now, root, collateral, certCache }),
);
const sigsOnly = await rate("verifyQuote (no collateral)", () => verifyQuote(quoteBytes, { now, root }));
const parse = await rate("parseQuote only", () => parseQuote(quoteBytes));

const ideal = raw.opsPerSec / SIGS_PER_QUOTE;
const rows = [
  [raw.name, raw.opsPerSec, "—"],
  [`  → ideal quotes/s (raw ÷ ${SIGS_PER_QUOTE} signatures)`, ideal, "1.00"],
  [full.name, full.opsPerSec, (full.opsPerSec / ideal).toFixed(2)],
  [sigsOnly.name, sigsOnly.opsPerSec, (sigsOnly.opsPerSec / ideal).toFixed(2)],
  [`${cached.name} ¹`, cached.opsPerSec, `${((cached.opsPerSec * 2) / raw.opsPerSec).toFixed(2)} ¹`],
  [parse.name, parse.opsPerSec, "—"],
] as const;
console.log(
  `TDX quote verification (SPR_E4 v4, ${SIGS_PER_QUOTE} P-256 verifications per quote, ${PHASE_MS} ms per phase)`,
);
console.log(`${"measurement".padEnd(56)} ${"ops/s".padStart(10)}  ratio to ideal`);
for (const [name, ops, ratio] of rows)
  console.log(`${name.padEnd(56)} ${ops.toFixed(0).padStart(10)}  ${ratio}`);
console.log(
  "¹ the cert cache skips the 3 chain signatures of repeated identical certificates: 2 P-256 verifications per quote; ratio = quotes/s ÷ (raw ÷ 2)",
);
const idealBase = { name: `ideal: raw P-256 verify/s ÷ ${SIGS_PER_QUOTE}`, value: ideal };
emit(
  "tdx",
  [
    figure(full.name, full.opsPerSec, "quotes/s", "higher", idealBase),
    figure(sigsOnly.name, sigsOnly.opsPerSec, "quotes/s", "higher", idealBase),
    figure(cached.name, cached.opsPerSec, "quotes/s", "higher", {
      name: "ideal with cert cache: raw P-256 verify/s ÷ 2",
      value: raw.opsPerSec / 2,
    }),
  ],
  {
    sigsPerQuote: SIGS_PER_QUOTE,
    rawP256VerifyPerSec: Math.round(raw.opsPerSec),
    idealQuotesPerSec: Math.round(ideal),
    quotesPerSecCollateralCached: Math.round(full.opsPerSec),
    quotesPerSecNoCollateral: Math.round(sigsOnly.opsPerSec),
    quotesPerSecCertCache: Math.round(cached.opsPerSec),
    parsesPerSec: Math.round(parse.opsPerSec),
    ratioToIdeal: Number((full.opsPerSec / ideal).toFixed(3)),
    input: toHex(q.body.mrTd).slice(0, 16),
  },
);
