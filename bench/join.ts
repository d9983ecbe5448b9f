#!/usr/bin/env bun
/**
 * Join throughput and latency: joins per second and p50/p99 join latency with 50, 200 and 1000 concurrent
 * simulated nodes against ONE JoinService (the real `join-service` process: client-attested aTLS, SQLite
 * cluster state, keys from the real `kms` process over mTLS), compared with the same ticket flow WITHOUT
 * attestation measured in the same run (bench/support/join-baseline-server.ts: TLS 1.3 with client
 * certificates, identity taken from the request as Constellation did, the same `issueJoinTicket`).
 *
 * Nodes use REAL evidence: a pool of swtpm instances (BENCH_SWTPMS, default 4), each booted with the local
 * image and carrying its own PCR 16 identity event; node i quotes on swtpm i mod pool with the persistent
 * AK. Every join is a fresh aTLS connection, a fresh P-256 kubelet key and CSR (made before the clock starts:
 * real nodes make theirs on their own CPU), and a fresh disk UUID. A failed join (BUSY: more pending
 * attestations than the service admits; timeouts under overload) is retried like the bootstrapper does
 * (capped exponential backoff, full jitter) until the level's deadline, and its latency includes the wait.
 * The machine's other load counts: compare the rows of one run, not runs.
 *
 * Usage: bun bench/join.ts   (BENCH_LEVELS=50,200,1000, BENCH_LEVEL_TIMEOUT_S=60 bound each level)
 * Prints a table and one JSON line.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createQemuVtpmValidator } from "@asterism/attestation";
import { toBase64 } from "@asterism/bytes";
import { clusterPkiFiles, generateClusterPki, writeControlPlaneFiles } from "@asterism/kubeadm";
import {
  backoffDelay,
  bootLocalNode,
  createKubeletCsr,
  createNodeIssuer,
  isUnavailable,
  LifecycleError,
  localImage,
  localImageMeasurements,
  measureNodeIdentity,
  type NodeTpm,
  openNodeTpm,
  requestJoinTicket,
  writeJoinConfig,
} from "@asterism/lifecycle";
import { createClusterCa, createMtlsFetch, issueServiceCertificate } from "@asterism/mtls";
import { openSqliteState } from "@asterism/state";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";

const LEVELS = (process.env["BENCH_LEVELS"] ?? "50,200,1000").split(",").map(Number);
const POOL = Number(process.env["BENCH_SWTPMS"] ?? 4);
const LEVEL_TIMEOUT_MS = Number(process.env["BENCH_LEVEL_TIMEOUT_S"] ?? 60) * 1000;
const root = join(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "asterism-bench-join-"));
const IMAGE = localImage("bench");
const children: ReturnType<typeof Bun.spawn>[] = [];
const swtpms: SwtpmInstance[] = [];
const tpms: NodeTpm[] = [];

function spawn(argv: string[], env: Record<string, string>, log: string) {
  const child = Bun.spawn(argv, {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: Bun.file(join(dir, log)),
  });
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, f: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = f();
    if (v !== undefined) return v;
    await Bun.sleep(25);
  }
  throw new Error(`bench: ${what} did not come up`);
}

interface LevelResult {
  mode: "attested" | "baseline";
  concurrency: number;
  ok: number;
  failed: number;
  retries: number;
  /** Retries after a refused or failed connection (BUSY, not reachable). */
  busy: number;
  seconds: number;
  joinsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  firstError?: string;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const uuid = () => crypto.randomUUID();

async function level(
  mode: LevelResult["mode"],
  concurrency: number,
  one: (i: number, csr: Uint8Array) => Promise<void>,
): Promise<LevelResult> {
  // Each simulated node made its kubelet key and CSR on its own CPU before joining; here they all share
  // the bench process, so the CSRs are made before the clock starts (same for both modes).
  const csrs = await Promise.all(
    Array.from(
      { length: concurrency },
      async (_, i) => (await createKubeletCsr({ name: `bench-${i % POOL}`, ips: ["127.0.0.1"] })).csr,
    ),
  );
  const latencies: number[] = [];
  let failed = 0;
  let retries = 0;
  let busy = 0;
  let firstError: string | undefined;
  const deadline = Date.now() + LEVEL_TIMEOUT_MS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const start = performance.now();
      for (let attempt = 0; ; attempt++) {
        try {
          await one(i, csrs[i] as Uint8Array);
          latencies.push(performance.now() - start);
          return;
        } catch (err) {
          // The bootstrapper retries every failure (BUSY, timeouts under overload …) until its deadline.
          firstError ??= err instanceof Error ? err.message.slice(0, 200) : String(err);
          if (Date.now() > deadline) {
            failed++;
            return;
          }
          if (isUnavailable(err) || String((err as Error).message).includes("BUSY")) busy++;
          retries++;
          await Bun.sleep(backoffDelay(attempt, { baseMs: 100, capMs: 2000 }));
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    mode,
    concurrency,
    ok: latencies.length,
    failed,
    retries,
    busy,
    seconds,
    joinsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ...(firstError ? { firstError } : {}),
  };
}

const results: LevelResult[] = [];
try {
  // Cluster material: service CA, KMS, Kubernetes PKI, join configuration.
  const now = new Date();
  const ca = await createClusterCa({ now });
  const kmsCert = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    ipAddresses: ["127.0.0.1"],
    now,
  });
  const joinCert = await issueServiceCertificate(ca, {
    service: "join-service",
    usage: "both",
    ipAddresses: ["127.0.0.1"],
    now,
  });
  const w = (name: string, data: string) => {
    writeFileSync(join(dir, name), data, { mode: 0o600 });
    return join(dir, name);
  };
  const master = {
    key: crypto.getRandomValues(new Uint8Array(32)),
    salt: crypto.getRandomValues(new Uint8Array(32)),
  };
  spawn(
    ["bun", "apps/kms/src/main.ts"],
    {
      KMS_MODE: "cluster",
      KMS_PORT: "0",
      KMS_CA_CERT_FILE: w("ca.pem", ca.certPem),
      KMS_TLS_CERT_FILE: w("kms.pem", kmsCert.certPem),
      KMS_TLS_KEY_FILE: w("kms.key", kmsCert.keyPem),
      KMS_MASTER_SECRET_FILE: w(
        "master.json",
        JSON.stringify({ key: toBase64(master.key), salt: toBase64(master.salt) }),
      ),
    },
    "kms.log",
  );
  const kmsPort = await waitFor("kms", () => {
    const m = /"msg":"kms.listening".*?"port":(\d+)/.exec(readFileSync(join(dir, "kms.log"), "utf8"));
    return m ? Number(m[1]) : undefined;
  });
  const pkiDir = join(dir, "pki");
  mkdirSync(pkiDir);
  await writeControlPlaneFiles(pkiDir, clusterPkiFiles(await generateClusterPki()));
  const policy = { measurements: localImageMeasurements(IMAGE) };

  // The swtpm pool: booted nodes, each with its identity event, quoting with its persistent AK.
  const issuers: ReturnType<typeof createNodeIssuer>[] = [];
  for (let i = 0; i < POOL; i++) {
    const sw = await startSwtpm();
    swtpms.push(sw);
    const firmware = await bootLocalNode(sw, IMAGE);
    const tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
    tpms.push(tpm);
    const log = await measureNodeIdentity(
      tpm,
      { name: `bench-${i}`, role: "worker", ips: ["127.0.0.1"] },
      firmware,
    );
    issuers.push(createNodeIssuer({ tpm, readEventLog: async () => log }));
  }
  // Sanity: the evidence passes the policy (else the bench would measure refusals).
  const probeNonce = crypto.getRandomValues(new Uint8Array(32));
  await createQemuVtpmValidator({ policy }).validate(
    await issuers[0]!.issue(new Uint8Array(32), probeNonce),
    probeNonce,
  );

  // Attested: the real JoinService.
  const attestedState = join(dir, "attested.db");
  {
    const s = openSqliteState(attestedState);
    await writeJoinConfig(s, {
      policy,
      measurementSalt: new Uint8Array(32).fill(7),
      kubernetesVersion: "v1.31.13",
      components: [],
    });
    s.close();
  }
  spawn(
    ["bun", "apps/join-service/src/main.ts"],
    {
      ASTERISM_STATE: `sqlite:${attestedState}`,
      ASTERISM_JOIN_LISTEN: "127.0.0.1:0",
      ASTERISM_HTTP_LISTEN: "127.0.0.1:0",
      ASTERISM_PKI_DIR: pkiDir,
      ASTERISM_KMS_URL: `https://127.0.0.1:${kmsPort}`,
      ASTERISM_KMS_CA_FILE: join(dir, "ca.pem"),
      ASTERISM_KMS_CERT_FILE: w("join.pem", joinCert.certPem),
      ASTERISM_KMS_KEY_FILE: w("join.key", joinCert.keyPem),
      ASTERISM_API_SERVER_ENDPOINT: "127.0.0.1:6443",
      ASTERISM_ENDPOINTS_FILE: join(dir, "join-endpoints.json"),
      ASTERISM_LOG_LEVEL: "error",
    },
    "join-service.log",
  );
  const joinUrl = await waitFor("join-service", () => {
    try {
      return (JSON.parse(readFileSync(join(dir, "join-endpoints.json"), "utf8")) as { join?: string }).join;
    } catch {
      return undefined;
    }
  });
  await Bun.sleep(500); // first policy load
  const attestedJoin = async (i: number, csr: Uint8Array) => {
    const node = i % POOL;
    await requestJoinTicket({
      endpoint: joinUrl,
      issuer: issuers[node]!,
      diskUuid: uuid(),
      csr,
      controlPlane: false,
    });
  };

  // Baseline: the same flow, no attestation.
  const baseline = spawn(
    ["bun", "bench/support/join-baseline-server.ts"],
    {
      STATE: join(dir, "baseline.db"),
      PKI_DIR: pkiDir,
      KMS_URL: `https://127.0.0.1:${kmsPort}`,
      CA: join(dir, "ca.pem"),
      CERT: join(dir, "join.pem"),
      KEY: join(dir, "join.key"),
    },
    "baseline.log",
  );
  const reader = (baseline.stdout as ReadableStream<Uint8Array>).getReader();
  const first = await Promise.race([reader.read(), Bun.sleep(10_000).then(() => undefined)]);
  reader.releaseLock();
  if (first?.value === undefined) throw new Error("baseline server did not start");
  const basePort = (JSON.parse(new TextDecoder().decode(first.value)) as { port: number }).port;
  const mtls = createMtlsFetch({ caCertPem: ca.certPem, certPem: joinCert.certPem, keyPem: joinCert.keyPem });
  const baselineJoin = async (i: number, csr: Uint8Array) => {
    const name = `bench-${i % POOL}`;
    const res = await mtls(`https://127.0.0.1:${basePort}/v1/join`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-node-name": name },
      body: JSON.stringify({ diskUuid: uuid(), csr: toBase64(csr), controlPlane: false }),
    });
    if (res.status !== 200) throw new LifecycleError("REFUSED", `baseline join: HTTP ${res.status}`);
    await res.arrayBuffer();
  };

  // Warm-up (JIT, connection setup, the measurement secret cache), then the levels.
  await level("attested", 10, attestedJoin);
  await level("baseline", 10, baselineJoin);
  for (const n of LEVELS) {
    results.push(await level("baseline", n, baselineJoin));
    results.push(await level("attested", n, attestedJoin));
  }
} finally {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => Promise.race([c.exited, Bun.sleep(3000)])));
  for (const c of children) c.kill("SIGKILL");
  for (const t of tpms) await t.close().catch(() => undefined);
  for (const s of swtpms) await s.stop();
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const base = (r: LevelResult) =>
  results.find((b) => b.mode === "baseline" && b.concurrency === r.concurrency);
const rows = results.map((r) => [
  r.mode === "attested"
    ? "JoinService (client-attested aTLS, swtpm evidence)"
    : "same flow without attestation (mTLS)",
  String(r.concurrency),
  `${r.ok}/${r.ok + r.failed}`,
  `${r.retries} (${r.busy})`,
  fmt(r.joinsPerSecond, 1),
  fmt(r.p50Ms, 1),
  fmt(r.p99Ms, 1),
  r.mode === "attested" ? `${fmt(r.joinsPerSecond / (base(r)?.joinsPerSecond ?? Number.NaN), 3)}×` : "1×",
]);
const header = [
  "case",
  "nodes",
  "ok",
  "retries (busy)",
  "joins/s",
  "p50 ms",
  "p99 ms",
  "throughput vs baseline",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(`\nJoins against one JoinService, ${POOL} swtpm instances for the nodes' evidence\n`);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));
for (const r of results)
  if (r.firstError) console.log(`  ${r.mode} ${r.concurrency}: first error: ${r.firstError}`);
console.log(
  JSON.stringify({
    bench: "join",
    swtpms: POOL,
    results: results.map((r) => ({
      ...r,
      throughputVsBaseline:
        r.mode === "attested" ? r.joinsPerSecond / (base(r)?.joinsPerSecond ?? Number.NaN) : 1,
      p99VsBaseline: r.mode === "attested" ? r.p99Ms / (base(r)?.p99Ms ?? Number.NaN) : 1,
    })),
  }),
);
