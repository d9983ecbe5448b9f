#!/usr/bin/env bun
/**
 * KMS throughput and tail latency: data-key derivations per second and p99 latency with 200 concurrent
 * callers through the real API (the `kms` service in its own process, cluster-managed mode, mutual TLS
 * on 127.0.0.1, Bun fetch with a JoinService client certificate), against raw HKDF-SHA256 through
 * WebCrypto measured in the same run with the same concurrency.
 *
 * Usage: bun bench/kms.ts            (BENCH_SECONDS per phase, default 6; total < 30 s)
 * Prints a table and one JSON line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBase64 } from "@asterism/bytes";
import { ClusterKeys } from "@asterism/keys";
import { createClusterCa, createMtlsFetch, issueServiceCertificate } from "@asterism/mtls";

const CONCURRENCY = 200;
const PHASE_MS = Math.max(1, Number(process.env["BENCH_SECONDS"] ?? "6")) * 1000;
const WARMUP_MS = 1000;

interface Result {
  readonly name: string;
  readonly ops: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Run `op` in `CONCURRENCY` loops for the phase; record every latency. */
async function run(name: string, op: (i: number) => Promise<void>): Promise<Result> {
  const warmEnd = performance.now() + WARMUP_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = 0; performance.now() < warmEnd; i++) await op(w * 1_000_000 + i);
    }),
  );
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + PHASE_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const t0 = performance.now();
        await op(w * 1_000_000 + i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    name,
    ops: latencies.length,
    perSecond: latencies.length / elapsed,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}

const uuidFor = (i: number) => `00000000-0000-4000-8000-${(i % 1e12).toString().padStart(12, "0")}`;

const encoder = new TextEncoder();
const masterKey = crypto.getRandomValues(new Uint8Array(32));
const masterSalt = crypto.getRandomValues(new Uint8Array(32));

// Baseline 1: raw HKDF through WebCrypto, import + derive per call (what each request minimally costs).
const raw = await run("raw HKDF-SHA256 (WebCrypto import+deriveBits)", async (i) => {
  const k = await crypto.subtle.importKey("raw", masterKey, "HKDF", false, ["deriveBits"]);
  await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: masterSalt, info: encoder.encode(`key-${uuidFor(i)}`) },
    k,
    256,
  );
});

// Baseline 2: the KMS's derivation core in-process (master key imported once, id validation included).
const core = await ClusterKeys.create(masterKey.slice(), masterSalt);
const inProcess = await run("ClusterKeys.derive (in-process)", async (i) => {
  await core.derive({ purpose: "dataKey", id: uuidFor(i), length: 32 });
});

// The real service over mTLS.
const dir = mkdtempSync(join(tmpdir(), "asterism-bench-kms-"));
let child: Bun.Subprocess | undefined;
let api: Result;
try {
  const now = new Date();
  const ca = await createClusterCa({ now });
  const server = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    now,
    ipAddresses: ["127.0.0.1"],
  });
  const join_ = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  writeFileSync(join(dir, "kms.pem"), server.certPem);
  writeFileSync(join(dir, "kms.key"), server.keyPem, { mode: 0o600 });
  writeFileSync(
    join(dir, "master.json"),
    JSON.stringify({ key: toBase64(masterKey), salt: toBase64(masterSalt) }),
    {
      mode: 0o600,
    },
  );
  const logPath = join(dir, "kms.log");
  child = Bun.spawn(["bun", join(import.meta.dir, "..", "apps", "kms", "src", "main.ts")], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      KMS_MODE: "cluster",
      KMS_PORT: "0",
      KMS_TLS_CERT_FILE: join(dir, "kms.pem"),
      KMS_TLS_KEY_FILE: join(dir, "kms.key"),
      KMS_CA_CERT_FILE: join(dir, "ca.pem"),
      KMS_MASTER_SECRET_FILE: join(dir, "master.json"),
    },
    stdout: "ignore",
    stderr: Bun.file(logPath),
  });
  let port: number | undefined;
  for (let i = 0; i < 200 && port === undefined; i++) {
    await Bun.sleep(25);
    const m = /"msg":"kms.listening".*?"port":(\d+)/.exec(readFileSync(logPath, "utf8"));
    if (m) port = Number(m[1]);
  }
  if (port === undefined) throw new Error(`kms did not start: ${readFileSync(logPath, "utf8")}`);
  const f = createMtlsFetch({
    caCertPem: ca.certPem,
    certPem: join_.certPem,
    keyPem: join_.keyPem,
    serverIdentity: "asterism://kms",
  });
  const base = `https://127.0.0.1:${port}/v1/data-keys/`;
  api = await run(`KMS API over mTLS (GET /v1/data-keys, ${CONCURRENCY} callers)`, async (i) => {
    const res = await f(`${base}${uuidFor(i)}?length=32`);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    await res.arrayBuffer();
  });
} finally {
  child?.kill("SIGTERM");
  await child?.exited;
  rmSync(dir, { recursive: true, force: true });
}

const results = [raw, inProcess, api];
const fmt = (n: number, d = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = results.map((r) => [
  r.name,
  fmt(r.ops),
  fmt(r.perSecond),
  fmt(r.p50Ms, 3),
  fmt(r.p99Ms, 3),
  `${fmt(r.perSecond / raw.perSecond, 3)}×`,
]);
const header = ["case", "ops", "ops/s", "p50 ms", "p99 ms", "throughput vs raw HKDF"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(
  `\nKMS derivations, ${CONCURRENCY} concurrent callers, ${PHASE_MS / 1000} s per case (after ${WARMUP_MS / 1000} s warm-up)\n`,
);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));
console.log(
  JSON.stringify({
    bench: "kms",
    concurrency: CONCURRENCY,
    phaseSeconds: PHASE_MS / 1000,
    results: results.map((r) => ({ ...r, ratioVsRawHkdf: r.perSecond / raw.perSecond })),
    apiP99VsRawP99: api.p99Ms / raw.p99Ms,
  }),
);
