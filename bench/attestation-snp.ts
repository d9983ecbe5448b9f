/**
 * SEV-SNP verification throughput: full report verifications per second (parse, cached chain, validity at
 * `now`, hwID/TCB consistency, ECDSA P-384 report signature) and verify+validate, against raw WebCrypto
 * ECDSA P-384/SHA-384 verifications of the same bytes with the same key, measured in the same run and
 * interleaved in rounds so machine load affects both alike. Goal: ratio ≥ 0.8.
 *
 * Run: `bun bench/attestation-snp.ts [seconds]` (default 12 s in total).
 */
import { certificatesFromPemOrDer, importVerifyKey, parseCertificate } from "@asterism/pki";
import {
  createSnpVerifier,
  parseReport,
  parseSnpPolicy,
  reportSignatureRaw,
  SIGNED_SIZE,
  validateSnpReport,
} from "@asterism/sev-snp";
import { readTestdata } from "@asterism/testing";

const totalSeconds = Number(process.argv[2] ?? "12");
const ROUNDS = 8;
const now = new Date("2025-10-01T08:00:00Z"); // oak Genoa vector's stated verification time

const reportBytes = await readTestdata("external", "oak", "genoa", "report.bin");
const vcek = await readTestdata("external", "oak", "genoa", "vcek.der");
const report = parseReport(reportBytes);
const verifier = createSnpVerifier();
const policy = parseSnpPolicy({
  product: "genoa",
  measurement: Buffer.from(report.measurement).toString("hex"),
  reportData: Buffer.from(report.reportData).toString("hex"),
  minimumTcb: { bootloader: 10, tee: 0, snp: 25, microcode: 84 },
});

const cert = parseCertificate(certificatesFromPemOrDer(vcek)[0] as Uint8Array);
const key = await importVerifyKey(cert.spki, { kind: "ecdsa", hash: "SHA-384" });
const signed = reportBytes.subarray(0, SIGNED_SIZE) as Uint8Array<ArrayBuffer>;
const sig = reportSignatureRaw(report);

const evidence = { report: reportBytes, endorsementKey: vcek };

const cases = {
  "raw ECDSA P-384 verify (WebCrypto)": async () => {
    if (!(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-384" }, key, sig, signed)))
      throw new Error("bad");
  },
  "SNP report verify (chain cached)": async () => {
    await verifier.verify(evidence, { now });
  },
  "SNP verify, cold (no chain cache)": async () => {
    await createSnpVerifier().verify(evidence, { now });
  },
  "SNP verify + validate (policy)": async () => {
    const v = await verifier.verify(evidence, { now });
    if (!validateSnpReport(v, policy).valid) throw new Error("policy");
  },
};
type Name = keyof typeof cases;

// Warm up: JIT, key import, chain cache.
for (const f of Object.values(cases)) for (let i = 0; i < 200; i++) await f();

const ops: Record<string, number> = {};
const time: Record<string, number> = {};
const slice = (totalSeconds * 1000) / ROUNDS / Object.keys(cases).length;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, f] of Object.entries(cases)) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < slice) {
      for (let i = 0; i < 20; i++) await f();
      n += 20;
    }
    ops[name] = (ops[name] ?? 0) + n;
    time[name] = (time[name] ?? 0) + (performance.now() - t0);
  }
}

const rate = (n: Name) => ((ops[n] ?? 0) * 1000) / (time[n] ?? 1);
const baseline = rate("raw ECDSA P-384 verify (WebCrypto)");
const rows = (Object.keys(cases) as Name[]).map((name) => ({
  name,
  opsPerSec: Math.round(rate(name)),
  usPerOp: Number((1e6 / rate(name)).toFixed(1)),
  ratio: Number((rate(name) / baseline).toFixed(3)),
}));

console.log(
  `\nSEV-SNP verification throughput (Bun ${Bun.version}, ${ROUNDS} interleaved rounds, ${totalSeconds}s)\n`,
);
console.log(`${"case".padEnd(38)} ${"ops/s".padStart(9)} ${"µs/op".padStart(9)} ${"vs raw".padStart(8)}`);
for (const r of rows)
  console.log(
    `${r.name.padEnd(38)} ${String(r.opsPerSec).padStart(9)} ${String(r.usPerOp).padStart(9)} ${r.ratio.toFixed(3).padStart(8)}`,
  );
const ratio = rows.find((r) => r.name === "SNP report verify (chain cached)")?.ratio ?? 0;
console.log(`\ngoal: verify/raw ≥ 0.8 → ${ratio >= 0.8 ? "met" : "NOT met"} (${ratio.toFixed(3)})\n`);
console.log(
  JSON.stringify({
    bench: "attestation-snp",
    bun: Bun.version,
    seconds: totalSeconds,
    goalRatio: 0.8,
    ratio,
    rows,
  }),
);
