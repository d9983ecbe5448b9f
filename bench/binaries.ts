/**
 * Compiled binaries: start time and memory of every executable `bun scripts/build.ts` puts in dist/,
 * against minimal `bun build --compile` hello-world programs built the same way in the same run.
 *
 * - Services with a launch recipe (below): spawn → first `200` from `/healthz` ("ready"), then the
 *   resident set (VmRSS) after 1 s idle. Baseline: a hello-world `Bun.serve` answering `/healthz`.
 * - The CLI, and services whose binary does not serve yet in this build: `--help` → exit, and the
 *   peak resident set (VmHWM sampled every millisecond). Baseline: a hello-world `console.log`.
 * - The size of each executable against the hello world's.
 *
 * Runs are interleaved (every binary once per round) so load drift on this shared machine hits all
 * alike; medians and p90 over the rounds.
 *
 *   bun bench/binaries.ts [--runs=10] [--no-build]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { toBase64 } from "@asterism/bytes";
import { clusterPkiFiles, generateClusterPki, writeControlPlaneFiles } from "@asterism/kubeadm";
import {
  bootLocalNode,
  localImage,
  localImageMeasurements,
  openClusterState,
  writeJoinConfig,
} from "@asterism/lifecycle";
import { createClusterCa, issueServiceCertificate } from "@asterism/mtls";
import { startSwtpm } from "@asterism/testing";
import { arg, emit, type Figure, figure, latency, machineLine, printTable } from "./harness.ts";

const RUNS = Math.max(1, Math.min(50, Number(arg("runs", "10", "BENCH_RUNS"))));
const RSS_RUNS = Math.min(RUNS, 3); // idle RSS needs 1 s of idling per sample
const READY_LIMIT_MS = 15_000;
const IDLE_MS = 1000;
const root = resolve(import.meta.dir, "..");
const dist = join(root, "dist");
const work = mkdtempSync(join(tmpdir(), "asterism-bench-bin-"));

/** How to start a service binary so that it serves `/healthz` (env, files) — added as services land. */
interface Recipe {
  readonly scheme: "http" | "https";
  prepare(dir: string): Promise<Record<string, string>> | Record<string, string>;
  /** The base URL of its health endpoint, from what it printed so far (default: `"port":N`). */
  health?(output: string): string | undefined;
}

/** The URL a lifecycle service announced for one of its listeners in its JSON log. */
const announced = (listener: string) => (output: string) =>
  new RegExp(`"listener":"${listener}"[^\\n]*?"url":"(http[^"]+)"`).exec(output)?.[1];
const cleanups: (() => Promise<void>)[] = [];

const RECIPES: Readonly<Record<string, Recipe>> = {
  /** Cluster-managed mode on 127.0.0.1 with a throw-away CA, server certificate and master secret. */
  kms: {
    scheme: "https",
    async prepare(dir) {
      const now = new Date();
      const ca = await createClusterCa({ now });
      const cert = await issueServiceCertificate(ca, {
        service: "kms",
        usage: "server",
        now,
        ipAddresses: ["127.0.0.1"],
      });
      const master = crypto.getRandomValues(new Uint8Array(64));
      writeFileSync(join(dir, "ca.pem"), ca.certPem);
      writeFileSync(join(dir, "kms.pem"), cert.certPem);
      writeFileSync(join(dir, "kms.key"), cert.keyPem, { mode: 0o600 });
      writeFileSync(
        join(dir, "master.json"),
        JSON.stringify({ key: toBase64(master.subarray(0, 32)), salt: toBase64(master.subarray(32)) }),
        { mode: 0o600 },
      );
      return {
        KMS_MODE: "cluster",
        KMS_HOST: "127.0.0.1",
        KMS_PORT: "0",
        KMS_TLS_CERT_FILE: join(dir, "kms.pem"),
        KMS_TLS_KEY_FILE: join(dir, "kms.key"),
        KMS_CA_CERT_FILE: join(dir, "ca.pem"),
        KMS_MASTER_SECRET_FILE: join(dir, "master.json"),
      };
    },
  },
  /**
   * On a powered-on swtpm with a booted image; no metadata service answers, so after its status listener
   * is up it waits (retrying with backoff) for one, as a node does before its cluster exists.
   */
  bootstrapper: {
    scheme: "http",
    async prepare(dir) {
      const sw = await startSwtpm();
      cleanups.push(() => sw.stop());
      await bootLocalNode(sw, localImage("binaries-bench"));
      return {
        ASTERISM_TPM: `swtpm:127.0.0.1:${sw.port}`,
        ASTERISM_METADATA_URL: "http://127.0.0.1:1",
        ASTERISM_STATE_DISK: join(dir, "state.img"),
        ASTERISM_RUN_DIR: dir,
        ASTERISM_HTTP_LISTEN: "127.0.0.1:0",
        ASTERISM_INIT_LISTEN: "127.0.0.1:0",
        ASTERISM_RECOVERY_LISTEN: "127.0.0.1:0",
        ASTERISM_LOG_LEVEL: "info",
      };
    },
    health: announced("http"),
  },
  /** On a powered-on swtpm with a booted image, as on a node. */
  "verification-service": {
    scheme: "http",
    async prepare(dir) {
      const sw = await startSwtpm();
      cleanups.push(() => sw.stop());
      await bootLocalNode(sw, localImage("binaries-bench"));
      return {
        ASTERISM_TPM: `swtpm:127.0.0.1:${sw.port}`,
        ASTERISM_RUN_DIR: dir,
        ASTERISM_VERIFY_LISTEN: "127.0.0.1:0",
        ASTERISM_LOG_LEVEL: "info",
      };
    },
    health: announced("verify"),
  },
  /** With a cluster state holding a join configuration, a cluster PKI and KMS client credentials. */
  "join-service": {
    scheme: "http",
    async prepare(dir) {
      const now = new Date();
      const ca = await createClusterCa({ now });
      const client = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
      writeFileSync(join(dir, "ca.pem"), ca.certPem);
      writeFileSync(join(dir, "js.pem"), client.certPem);
      writeFileSync(join(dir, "js.key"), client.keyPem, { mode: 0o600 });
      const pkiDir = join(dir, "pki");
      Bun.spawnSync(["mkdir", "-p", pkiDir]);
      await writeControlPlaneFiles(pkiDir, clusterPkiFiles(await generateClusterPki()));
      const state = openClusterState(`sqlite:${join(dir, "state.db")}`);
      await writeJoinConfig(state, {
        policy: { measurements: localImageMeasurements(localImage("binaries-bench")) },
        measurementSalt: new Uint8Array(32),
        kubernetesVersion: "v1.31.13",
        components: [],
      });
      state.close();
      return {
        ASTERISM_STATE: `sqlite:${join(dir, "state.db")}`,
        ASTERISM_JOIN_LISTEN: "127.0.0.1:0",
        ASTERISM_HTTP_LISTEN: "127.0.0.1:0",
        ASTERISM_PKI_DIR: pkiDir,
        ASTERISM_KMS_URL: "https://127.0.0.1:1",
        ASTERISM_KMS_CA_FILE: join(dir, "ca.pem"),
        ASTERISM_KMS_CERT_FILE: join(dir, "js.pem"),
        ASTERISM_KMS_KEY_FILE: join(dir, "js.key"),
        ASTERISM_API_SERVER_ENDPOINT: "127.0.0.1:6443",
        ASTERISM_LOG_LEVEL: "info",
      };
    },
    health: announced("http"),
  },
};

interface Target {
  readonly name: string;
  readonly path: string;
  readonly mode: "serve" | "help";
  readonly recipe?: Recipe;
}

function build(entry: string, out: string): void {
  const p = Bun.spawnSync(["bun", "build", "--compile", "--minify", "--sourcemap", entry, "--outfile", out], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (p.exitCode !== 0) throw new Error(`bun build ${entry} failed: ${p.stderr.toString()}`);
}

/** VmRSS of a live process, bytes. */
function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/** VmHWM (peak resident set) of a live process, bytes; NaN once it has exited. */
function peakOf(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * `--help` (or the hello world): spawn → exit. With `sampleRss`, VmHWM is read from /proc every
 * millisecond while it runs and the last reading is its peak (getrusage's maxRSS is no use here: a child
 * spawned with vfork inherits the parent's high-water mark at exec).
 */
async function timeToExit(
  path: string,
  args: readonly string[],
  sampleRss = false,
): Promise<{ ms: number; peakRss: number }> {
  const t0 = performance.now();
  const p = Bun.spawn([path, ...args], { stdout: "ignore", stderr: "ignore", timeout: READY_LIMIT_MS });
  let peakRss = Number.NaN;
  if (sampleRss)
    while (p.exitCode === null && performance.now() - t0 < READY_LIMIT_MS) {
      const x = peakOf(p.pid);
      if (Number.isFinite(x)) peakRss = x;
      await Bun.sleep(1);
    }
  const code = await p.exited;
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`${path} ${args.join(" ")} exited ${code}`);
  return { ms, peakRss };
}

/**
 * Spawn a server, find its port in its output (`"port":N`, as our JSON logs print it), poll `/healthz`
 * until 200. Returns the time to ready and, when asked, VmRSS after {@link IDLE_MS} idle.
 */
async function timeToReady(
  path: string,
  env: Record<string, string>,
  scheme: "http" | "https",
  measureRss: boolean,
  health?: (output: string) => string | undefined,
): Promise<{ ms: number; idleRss: number }> {
  const t0 = performance.now();
  const p = Bun.spawn([path], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    let text = "";
    let base: string | undefined;
    const decoder = new TextDecoder();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) {
        text += decoder.decode(chunk, { stream: true });
        if (base !== undefined) continue;
        if (health) base = health(text);
        else {
          const m = /"port":\s*(\d+)/.exec(text);
          if (m) base = `${scheme}://127.0.0.1:${m[1]}`;
        }
      }
    };
    void pump(p.stdout);
    void pump(p.stderr);
    const deadline = t0 + READY_LIMIT_MS;
    for (;;) {
      if (performance.now() > deadline) throw new Error(`${path} not ready in ${READY_LIMIT_MS} ms: ${text}`);
      if (p.exitCode !== null) throw new Error(`${path} exited ${p.exitCode}: ${text}`);
      if (base !== undefined) {
        const ok = await fetch(`${base}/healthz`, {
          tls: { rejectUnauthorized: false },
        }).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ok) break;
      }
      await Bun.sleep(1);
    }
    const ms = performance.now() - t0;
    let idleRss = Number.NaN;
    if (measureRss) {
      await Bun.sleep(IDLE_MS);
      idleRss = rssOf(p.pid);
    }
    return { ms, idleRss };
  } finally {
    p.kill("SIGTERM");
    await Promise.race([p.exited, Bun.sleep(3000)]);
    if (p.exitCode === null) p.kill("SIGKILL");
  }
}

const MiB = 2 ** 20;
try {
  if (!process.argv.includes("--no-build")) {
    const b = Bun.spawnSync(["bun", "scripts/build.ts"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    if (b.exitCode !== 0) throw new Error(`scripts/build.ts failed: ${b.stderr.toString()}`);
  }
  // Baselines, compiled with the same flags as scripts/build.ts.
  writeFileSync(join(work, "hello-cli.ts"), 'console.log("hello");\n');
  writeFileSync(
    join(work, "hello-server.ts"),
    [
      'const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) =>',
      '  new URL(r.url).pathname === "/healthz" ? new Response("ok") : new Response("", { status: 404 }) });',
      "console.log(JSON.stringify({ port: server.port }));",
      "",
    ].join("\n"),
  );
  const helloCli = join(work, "hello-cli");
  const helloServer = join(work, "hello-server");
  build(join(work, "hello-cli.ts"), helloCli);
  build(join(work, "hello-server.ts"), helloServer);

  const targets: Target[] = readdirSync(dist)
    .filter((f) => !f.includes("."))
    .sort()
    .map((name) => {
      const recipe = RECIPES[name];
      return recipe
        ? { name, path: join(dist, name), mode: "serve" as const, recipe }
        : { name, path: join(dist, name), mode: "help" as const };
    });
  const envs = new Map<string, Record<string, string>>();
  for (const t of targets) {
    if (!t.recipe) continue;
    const dir = join(work, t.name);
    Bun.spawnSync(["mkdir", "-p", dir]);
    envs.set(t.name, await t.recipe.prepare(dir));
  }

  const samples = new Map<string, { ms: number[]; rss: number[] }>();
  const add = (k: string, ms: number, rss: number) => {
    const s = samples.get(k) ?? { ms: [], rss: [] };
    s.ms.push(ms);
    if (Number.isFinite(rss)) s.rss.push(rss);
    samples.set(k, s);
  };
  // Warm the page cache once (the first exec of a 100 MB file reads it from disk).
  await timeToExit(helloCli, []);
  for (const t of targets) await timeToExit(t.path, ["--help"]);

  for (let round = 0; round < RUNS; round++) {
    const rss = round < RSS_RUNS;
    const c = await timeToExit(helloCli, []);
    add("hello-cli", c.ms, rss ? (await timeToExit(helloCli, [], true)).peakRss : Number.NaN);
    const s = await timeToReady(helloServer, {}, "http", rss);
    add("hello-server", s.ms, s.idleRss);
    for (const t of targets) {
      if (t.mode === "serve" && t.recipe) {
        const r = await timeToReady(t.path, envs.get(t.name) ?? {}, t.recipe.scheme, rss, t.recipe.health);
        add(t.name, r.ms, r.idleRss);
      } else {
        const r = await timeToExit(t.path, ["--help"]);
        add(t.name, r.ms, rss ? (await timeToExit(t.path, ["--help"], true)).peakRss : Number.NaN);
      }
    }
  }

  const stat = (k: string) => {
    const s = samples.get(k) ?? { ms: [], rss: [] };
    return { ms: latency(s.ms), rss: latency(s.rss).p50Ms };
  };
  const size = (p: string) => statSync(p).size;
  const hc = stat("hello-cli");
  const hs = stat("hello-server");
  const figures: Figure[] = [];
  const rows: string[][] = [];
  const row = (name: string, how: string, st: ReturnType<typeof stat>, rssKind: string, bytes: number) =>
    rows.push([
      name,
      how,
      st.ms.p50Ms.toFixed(1),
      st.ms.p99Ms.toFixed(1),
      `${(st.rss / MiB).toFixed(1)} (${rssKind})`,
      (bytes / MiB).toFixed(1),
    ]);
  row("hello world (console.log)", "run → exit", hc, "peak", size(helloCli));
  row("hello world (Bun.serve)", "start → /healthz 200", hs, "idle", size(helloServer));
  for (const t of targets) {
    const st = stat(t.name);
    const serve = t.mode === "serve";
    const base = serve ? hs : hc;
    const baseName = serve ? "hello-world Bun.serve" : "hello-world console.log";
    row(t.name, serve ? "start → /healthz 200" : "--help → exit", st, serve ? "idle" : "peak", size(t.path));
    figures.push(
      figure(
        `${t.name}: ${serve ? "start → ready (/healthz)" : "--help → exit"}, median`,
        st.ms.p50Ms,
        "ms",
        "lower",
        { name: `${baseName}, median`, value: base.ms.p50Ms },
      ),
      figure(
        `${t.name}: ${serve ? "idle RSS after ready" : "peak RSS of --help"}`,
        st.rss / MiB,
        "MiB",
        "lower",
        { name: `${baseName} ${serve ? "idle" : "peak"} RSS`, value: base.rss / MiB },
      ),
      figure(`${t.name}: executable size`, size(t.path) / MiB, "MiB", "lower", {
        name: "hello-world executable",
        value: size(helloCli) / MiB,
      }),
    );
  }
  printTable(
    `Compiled binaries (${machineLine()}, ${RUNS} interleaved rounds, RSS median of ${RSS_RUNS})`,
    ["binary", "measured", "p50 ms", "p99 ms", "RSS MiB", "size MiB"],
    rows,
  );
  const notServing = targets.filter((t) => t.mode === "help").map((t) => t.name);
  if (notServing.length > 0)
    console.log(
      `\n--help only (no /healthz recipe for this build): ${notServing.join(", ")}; the CLI has no server by design.`,
    );
  emit("binaries", figures, {
    runs: RUNS,
    modes: Object.fromEntries(targets.map((t) => [t.name, t.mode])),
  });
} finally {
  for (const c of cleanups) await c().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
