#!/usr/bin/env bun
/**
 * KMS throughput and tail latency: data-key derivations per second and p99 latency with 200 concurrent
 * callers through the real API (the `kms` service in its own process, cluster-managed mode, mutual TLS
 * on 127.0.0.1, Bun fetch with a JoinService client certificate), against raw HKDF-SHA256 through
 * WebCrypto measured in the same run with the same concurrency. A fourth case runs the service in
 * user-managed mode (1000 random data keys wrapped by a SoftHSM2 KEK; every request is an HSM unwrap),
 * and a transport-only case (same mTLS/HTTP/Hono stack answering a constant) separates the KMS's own
 * cost from TLS and HTTP.
 *
 * Usage: bun bench/kms.ts            (BENCH_SECONDS per case, default 3; total < 30 s)
 * Prints a table and one JSON line.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toBase64 } from "@asterism/bytes";
import { ClusterKeys } from "@asterism/keys";
import { createClusterCa, createMtlsFetch, issueServiceCertificate } from "@asterism/mtls";
import { createSoftHsmToken } from "@asterism/testing";

const CONCURRENCY = Math.max(1, Number(process.env["BENCH_CONCURRENCY"] ?? "200"));
const PHASE_MS = Math.max(1, Number(process.env["BENCH_SECONDS"] ?? "3")) * 1000;
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

// The real service over mTLS, in its own process; stderr (one JSON line per release) goes to a file.
const dir = mkdtempSync(join(tmpdir(), "asterism-bench-kms-"));
const token = createSoftHsmToken("asterism-bench", "24680", "13579");
const now = new Date();
const ca = await createClusterCa({ now });
const serverCert = await issueServiceCertificate(ca, {
  service: "kms",
  usage: "server",
  now,
  ipAddresses: ["127.0.0.1"],
});
const joinCert = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
writeFileSync(join(dir, "ca.pem"), ca.certPem);
writeFileSync(join(dir, "kms.pem"), serverCert.certPem);
writeFileSync(join(dir, "kms.key"), serverCert.keyPem, { mode: 0o600 });
writeFileSync(
  join(dir, "master.json"),
  JSON.stringify({ key: toBase64(masterKey), salt: toBase64(masterSalt) }),
  {
    mode: 0o600,
  },
);
writeFileSync(join(dir, "pin"), token.pin, { mode: 0o600 });
const mtlsFetch = createMtlsFetch({
  caCertPem: ca.certPem,
  certPem: joinCert.certPem,
  keyPem: joinCert.keyPem,
  // No serverIdentity pin here: Bun stops pooling connections with checkServerIdentity (see client.ts);
  // the CA and the IP SAN check still authenticate the server.
});

async function throughService(name: string, env: Record<string, string>, keyCount: number): Promise<Result> {
  const logPath = join(dir, `${env["KMS_MODE"]}.log`);
  const child = Bun.spawn(["bun", join(import.meta.dir, "..", "apps", "kms", "src", "main.ts")], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      KMS_PORT: "0",
      KMS_TLS_CERT_FILE: join(dir, "kms.pem"),
      KMS_TLS_KEY_FILE: join(dir, "kms.key"),
      KMS_CA_CERT_FILE: join(dir, "ca.pem"),
      ...env,
    },
    stdout: "ignore",
    stderr: Bun.file(logPath),
  });
  try {
    let port: number | undefined;
    for (let i = 0; i < 200 && port === undefined && child.exitCode === null; i++) {
      await Bun.sleep(25);
      const m = /"msg":"kms.listening".*?"port":(\d+)/.exec(readFileSync(logPath, "utf8"));
      if (m) port = Number(m[1]);
    }
    if (port === undefined) throw new Error(`kms did not start: ${readFileSync(logPath, "utf8")}`);
    const url = `https://127.0.0.1:${port}/v1/data-keys`;
    // POST = get-or-create: in user mode the warm-up creates the key set, the measured phase unwraps.
    return await run(name, async (i) => {
      const res = await mtlsFetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: uuidFor(i % keyCount), length: 32 }),
      });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await res.arrayBuffer();
    });
  } finally {
    child.kill("SIGTERM");
    await child.exited;
  }
}

/** The transport alone: same TLS/HTTP/Hono/authenticator stack, constant answer, own process. */
async function throughEcho(name: string): Promise<Result> {
  const child = Bun.spawn(["bun", join(import.meta.dir, "support", "mtls-echo-server.ts")], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      CERT: join(dir, "kms.pem"),
      KEY: join(dir, "kms.key"),
      CA: join(dir, "ca.pem"),
    },
    stdout: "pipe",
    stderr: "inherit",
  });
  try {
    const reader = child.stdout.getReader();
    const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => undefined)]);
    reader.releaseLock();
    const port =
      first?.value === undefined
        ? undefined
        : (JSON.parse(new TextDecoder().decode(first.value)) as { port: number }).port;
    if (port === undefined) throw new Error("echo server did not start");
    return await run(name, async (i) => {
      const res = await mtlsFetch(`https://127.0.0.1:${port}/v1/data-keys/${uuidFor(i)}?length=32`);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await res.arrayBuffer();
    });
  } finally {
    child.kill("SIGTERM");
    await child.exited;
  }
}

let echo: Result;
let api: Result;
let userApi: Result;
try {
  echo = await throughEcho(`mTLS transport only (same stack, constant body), ${CONCURRENCY} callers`);
  api = await throughService(
    `KMS API, cluster mode (HKDF), mTLS, ${CONCURRENCY} callers`,
    { KMS_MODE: "cluster", KMS_MASTER_SECRET_FILE: join(dir, "master.json") },
    Number.MAX_SAFE_INTEGER,
  );
  userApi = await throughService(
    `KMS API, user mode (SoftHSM2 unwrap), mTLS, ${CONCURRENCY} callers`,
    {
      ...token.env,
      KMS_MODE: "user",
      KMS_PKCS11_LIBRARY: token.libraryPath,
      KMS_PKCS11_TOKEN: token.label,
      KMS_PKCS11_PIN_FILE: join(dir, "pin"),
      KMS_STORE_DIR: join(dir, "store"),
      KMS_CREATE_KEK: "true",
    },
    1000,
  );
} finally {
  token.cleanup();
  rmSync(dir, { recursive: true, force: true });
}

const results = [raw, inProcess, echo, api, userApi];
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
    apiThroughputVsTransport: api.perSecond / echo.perSecond,
    userApiP99VsRawP99: userApi.p99Ms / raw.p99Ms,
  }),
);
