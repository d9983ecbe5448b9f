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
import { emit, figure, interleave, type Measured, machineLine, printTable } from "./harness.ts";

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
const results = await interleave(cases, { seconds: totalSeconds, rounds: ROUNDS, warmup: 200 });
const byName = (n: keyof typeof cases) => results.find((r) => r.name === n) as Measured;
const raw = byName("raw ECDSA P-384 verify (WebCrypto)");
const base = { name: raw.name, value: raw.opsPerSec };
const figures = results
  .filter((r) => r !== raw)
  .map((r) => figure(r.name, r.opsPerSec, "verifications/s", "higher", base));
const rows = results.map((r) => ({
  name: r.name,
  opsPerSec: Math.round(r.opsPerSec),
  usPerOp: Number((1e6 / r.opsPerSec).toFixed(1)),
  p99Us: Number((r.p99Ms * 1000).toFixed(1)),
  ratio: Number((r.opsPerSec / raw.opsPerSec).toFixed(3)),
}));

printTable(
  `SEV-SNP verification throughput (${machineLine()}, ${ROUNDS} interleaved rounds, ${totalSeconds}s)`,
  ["case", "ops/s", "µs/op", "p99 µs", "vs raw"],
  rows.map((r) => [r.name, String(r.opsPerSec), String(r.usPerOp), String(r.p99Us), r.ratio.toFixed(3)]),
);
const ratio = rows.find((r) => r.name === "SNP report verify (chain cached)")?.ratio ?? 0;
console.log(`\ngoal: verify/raw ≥ 0.8 → ${ratio >= 0.8 ? "met" : "NOT met"} (${ratio.toFixed(3)})\n`);
emit("attestation-snp", figures, { seconds: totalSeconds, goalRatio: 0.8, ratio, rows });
