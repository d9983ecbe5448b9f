#!/usr/bin/env bun
/**
 * Measures what the compiled services (dist/<name>, built by `bun scripts/build.ts`) use, to set the
 * DaemonSets' requests and limits (k8s/README.md "Resources"). Each service is started the way its tests
 * start it (kms: cluster mode over mTLS; join-service: SQLite state, the real KMS, a kubeadm PKI;
 * verification-service: a booted swtpm node with its identity event), then sampled from /proc every
 * 200 ms: RSS (`VmRSS`), peak RSS (`VmHWM`) and CPU time (`utime + stime` of /proc/<pid>/stat, in clock
 * ticks). Phases: idle (IDLE_S seconds after it is ready) and load (LOAD_S seconds of its real work,
 * LOAD_CONCURRENCY requests in flight: kms key releases, attested joins, TPM quotes).
 *
 * The machine is shared (2 cores, other agents): CPU figures under load are what the service got, not
 * what it could use; memory figures do not depend on that.
 *
 * Usage: bun k8s/measure-resources.ts   (MEASURE_IDLE_S=5 MEASURE_LOAD_S=8 MEASURE_CONCURRENCY=4)
 * Prints a table and one JSON line. Everything listens on 127.0.0.1; every child is killed at exit.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_PATHS } from "@asterism/api";
import { toBase64 } from "@asterism/bytes";
import { clusterPkiFiles, generateClusterPki, writeControlPlaneFiles } from "@asterism/kubeadm";
import {
  bootLocalNode,
  createKubeletCsr,
  createNodeIssuer,
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

const IDLE_S = Number(process.env["MEASURE_IDLE_S"] ?? 5);
const LOAD_S = Number(process.env["MEASURE_LOAD_S"] ?? 8);
const CONCURRENCY = Number(process.env["MEASURE_CONCURRENCY"] ?? 4);
const SAMPLE_MS = 200;
/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every Linux we run on). */
const CLOCK_TICKS = 100;

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
const dir = mkdtempSync(join(tmpdir(), "asterism-measure-"));
const children: ReturnType<typeof Bun.spawn>[] = [];
const swtpms: SwtpmInstance[] = [];
const tpms: NodeTpm[] = [];

async function cleanup() {
  for (const c of children) c.kill("SIGKILL");
  for (const t of tpms) await t.close().catch(() => undefined);
  for (const s of swtpms) await s.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}

function binary(name: string): string {
  const p = join(dist, name);
  if (!existsSync(p)) throw new Error(`${p} missing: run bun scripts/build.ts first`);
  return p;
}

function spawn(name: string, env: Record<string, string>) {
  const child = Bun.spawn([binary(name)], {
    cwd: dir,
    env: { PATH: "/usr/bin:/bin", HOME: dir, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: Bun.file(join(dir, `${name}.log`)),
  });
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, f: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = f();
    if (v !== undefined) return v;
    await Bun.sleep(50);
  }
  throw new Error(`measure: ${what} did not come up`);
}

const w = (name: string, data: string) => {
  writeFileSync(join(dir, name), data, { mode: 0o600 });
  return join(dir, name);
};
const endpoint = (file: string, key: string) =>
  waitFor(`${key} endpoint`, () => {
    try {
      return (JSON.parse(readFileSync(join(dir, file), "utf8")) as Record<string, string>)[key];
    } catch {
      return undefined;
    }
  });

interface Sample {
  rssKiB: number;
  hwmKiB: number;
  cpuTicks: number;
}

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { rssKiB: kib("VmRSS"), hwmKiB: kib("VmHWM"), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

interface Phase {
  rssMiB: { median: number; max: number };
  hwmMiB: number;
  /** Average CPU over the phase, millicores. */
  cpuMillicores: number;
  /** Highest CPU over any one-second window, millicores. */
  peakCpuMillicores: number;
  operations?: number;
  operationsPerSecond?: number;
}

/** Samples `pid` for `seconds` while `work` (if any) runs with CONCURRENCY workers until the end. */
async function measure(pid: number, seconds: number, work?: () => Promise<void>): Promise<Phase> {
  const samples: { t: number; s: Sample }[] = [];
  const end = performance.now() + seconds * 1000;
  let ops = 0;
  const workers = work
    ? Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          await work();
          ops++;
        }
      })
    : [];
  while (performance.now() < end) {
    samples.push({ t: performance.now(), s: sample(pid) });
    await Bun.sleep(SAMPLE_MS);
  }
  await Promise.all(workers);
  samples.push({ t: performance.now(), s: sample(pid) });
  const mib = (k: number) => Math.round((k / 1024) * 10) / 10;
  const rss = samples.map((x) => x.s.rssKiB).sort((a, b) => a - b);
  const first = samples[0] as { t: number; s: Sample };
  const last = samples[samples.length - 1] as { t: number; s: Sample };
  const milli = (ticks: number, ms: number) => Math.round((ticks / CLOCK_TICKS / (ms / 1000)) * 1000);
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = samples[i] as { t: number; s: Sample };
    const b = samples.find((x) => x.t - a.t >= 1000);
    if (b) peak = Math.max(peak, milli(b.s.cpuTicks - a.s.cpuTicks, b.t - a.t));
  }
  const phase: Phase = {
    rssMiB: {
      median: mib(rss[Math.floor(rss.length / 2)] as number),
      max: mib(rss[rss.length - 1] as number),
    },
    hwmMiB: mib(last.s.hwmKiB),
    cpuMillicores: milli(last.s.cpuTicks - first.s.cpuTicks, last.t - first.t),
    peakCpuMillicores: peak,
  };
  if (work) Object.assign(phase, { operations: ops, operationsPerSecond: Math.round(ops / seconds) });
  return phase;
}

interface Row {
  service: string;
  load: string;
  idle: Phase;
  loaded: Phase;
}

async function main(): Promise<Row[]> {
  const rows: Row[] = [];
  const now = new Date();
  const ca = await createClusterCa({ now });
  const kmsCert = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    ipAddresses: ["127.0.0.1"],
    now,
  });
  const joinCert = await issueServiceCertificate(ca, { service: "join-service", usage: "both", now });

  // --- kms (cluster mode), loaded with key releases to the JoinService identity over mTLS.
  const master = {
    key: crypto.getRandomValues(new Uint8Array(32)),
    salt: crypto.getRandomValues(new Uint8Array(32)),
  };
  const kms = spawn("kms", {
    KMS_MODE: "cluster",
    KMS_HOST: "127.0.0.1",
    KMS_PORT: "0",
    KMS_CA_CERT_FILE: w("ca.pem", ca.certPem),
    KMS_TLS_CERT_FILE: w("kms.pem", kmsCert.certPem),
    KMS_TLS_KEY_FILE: w("kms.key", kmsCert.keyPem),
    KMS_MASTER_SECRET_FILE: w(
      "master.json",
      JSON.stringify({ key: toBase64(master.key), salt: toBase64(master.salt) }),
    ),
  });
  const kmsPort = await waitFor("kms", () => {
    const m = /"msg":"kms.listening".*?"port":(\d+)/.exec(readFileSync(join(dir, "kms.log"), "utf8"));
    return m ? Number(m[1]) : undefined;
  });
  const asJoin = createMtlsFetch({
    caCertPem: ca.certPem,
    serverIdentity: "asterism://kms",
    certPem: joinCert.certPem,
    keyPem: joinCert.keyPem,
  });
  const kmsWork = async () => {
    const res = await asJoin(`https://127.0.0.1:${kmsPort}/v1/data-keys/${crypto.randomUUID()}?length=32`);
    if (res.status !== 200) throw new Error(`kms answered ${res.status}`);
    await res.arrayBuffer();
  };
  await kmsWork();
  rows.push({
    service: "kms",
    load: "key releases over mTLS (new connection each)",
    idle: await measure(kms.pid, IDLE_S),
    loaded: await measure(kms.pid, LOAD_S, kmsWork),
  });

  // --- A booted swtpm node: evidence for joins and for the verification-service.
  const image = localImage("measure");
  const sw = await startSwtpm();
  swtpms.push(sw);
  const firmware = await bootLocalNode(sw, image);
  const tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
  tpms.push(tpm);
  const eventLog = await measureNodeIdentity(
    tpm,
    { name: "measure-0", role: "worker", ips: ["127.0.0.1"] },
    firmware,
  );
  const issuer = createNodeIssuer({ tpm, readEventLog: async () => eventLog });

  // --- join-service (SQLite state, the KMS above, a kubeadm PKI), loaded with attested joins.
  const pkiDir = join(dir, "pki");
  mkdirSync(pkiDir);
  await writeControlPlaneFiles(pkiDir, clusterPkiFiles(await generateClusterPki()));
  const statePath = join(dir, "state.db");
  const state = openSqliteState(statePath);
  await writeJoinConfig(state, {
    policy: { measurements: localImageMeasurements(image) },
    measurementSalt: new Uint8Array(32).fill(7),
    kubernetesVersion: "v1.31.13",
    components: [],
  });
  state.close();
  const joinService = spawn("join-service", {
    ASTERISM_STATE: `sqlite:${statePath}`,
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
  });
  const joinUrl = await endpoint("join-endpoints.json", "join");
  const joinHttp = await endpoint("join-endpoints.json", "http");
  for (let i = 0; i < 100 && !(await fetch(`${joinHttp}/readyz`)).ok; i++) await Bun.sleep(100);
  // One CSR for all joins: the key pair is the node's work, not the service's.
  const { csr } = await createKubeletCsr({ name: "measure-0", ips: ["127.0.0.1"] });
  const joinWork = async () => {
    await requestJoinTicket({
      endpoint: joinUrl,
      issuer,
      diskUuid: crypto.randomUUID(),
      csr,
      controlPlane: false,
    });
  };
  await joinWork();
  rows.push({
    service: "join-service",
    load: "attested joins (aTLS + TPM quote check + KMS key + kubelet cert)",
    idle: await measure(joinService.pid, IDLE_S),
    loaded: await measure(joinService.pid, LOAD_S, joinWork),
  });

  // --- verification-service on the same node, loaded with attestation requests (a TPM quote each).
  const runDir = join(dir, "node");
  mkdirSync(runDir);
  writeFileSync(join(runDir, "eventlog.bin"), eventLog);
  const verify = spawn("verification-service", {
    ASTERISM_TPM: `swtpm:127.0.0.1:${sw.port}`,
    ASTERISM_RUN_DIR: runDir,
    ASTERISM_VERIFY_LISTEN: "127.0.0.1:0",
    ASTERISM_ENDPOINTS_FILE: join(dir, "verify-endpoints.json"),
    ASTERISM_LOG_LEVEL: "error",
  });
  const verifyUrl = await endpoint("verify-endpoints.json", "verify");
  for (let i = 0; i < 100 && !(await fetch(`${verifyUrl}/readyz`)).ok; i++) await Bun.sleep(100);
  const verifyWork = async () => {
    const nonce = toBase64(crypto.getRandomValues(new Uint8Array(32)));
    const res = await fetch(`${verifyUrl}${API_PATHS.attest}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nonce }),
    });
    if (res.status !== 200) throw new Error(`verification-service answered ${res.status}`);
    await res.arrayBuffer();
  };
  await verifyWork();
  rows.push({
    service: "verification-service",
    load: "attestation requests (one swtpm quote each)",
    idle: await measure(verify.pid, IDLE_S),
    loaded: await measure(verify.pid, LOAD_S, verifyWork),
  });
  return rows;
}

try {
  const rows = await main();
  const pad = (s: string | number, n: number) => String(s).padEnd(n);
  console.log(
    `idle ${IDLE_S} s, load ${LOAD_S} s with ${CONCURRENCY} in flight; RSS MiB, CPU millicores (avg / peak 1 s)\n`,
  );
  console.log(
    `${pad("service", 22)}${pad("idle RSS", 10)}${pad("idle CPU", 10)}${pad("load RSS max", 14)}${pad("VmHWM", 8)}${pad("load CPU", 12)}ops/s`,
  );
  for (const r of rows)
    console.log(
      `${pad(r.service, 22)}${pad(r.idle.rssMiB.median, 10)}${pad(r.idle.cpuMillicores, 10)}${pad(r.loaded.rssMiB.max, 14)}${pad(r.loaded.hwmMiB, 8)}${pad(`${r.loaded.cpuMillicores} / ${r.loaded.peakCpuMillicores}`, 12)}${r.loaded.operationsPerSecond}`,
    );
  console.log(
    JSON.stringify({ bench: "k8s-resources", idleS: IDLE_S, loadS: LOAD_S, concurrency: CONCURRENCY, rows }),
  );
} finally {
  await cleanup();
}
