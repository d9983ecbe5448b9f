/**
 * TEST-ONLY: the cluster-side services of a join, started the way `asterism mini` starts them, for load
 * and fault tests on loopback: the real KMS and the real JoinService (their `main.ts`, each in its own
 * process so that a test can SIGKILL them), a service CA for their mutual TLS, a cluster PKI directory,
 * the SQLite cluster state with the join configuration, and the master secret — whose derivations the
 * tests recompute independently to check every key handed out.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AttestationPolicy } from "@asterism/attestation";
import { toBase64 } from "@asterism/bytes";
import { ClusterKeys } from "@asterism/keys";
import { clusterPkiFiles, generateClusterPki, writeControlPlaneFiles } from "@asterism/kubeadm";
import { openClusterState, writeJoinConfig } from "@asterism/lifecycle";
import { createClusterCa, createMtlsFetch, issueServiceCertificate } from "@asterism/mtls";

export const REPO = resolve(import.meta.dir, "..", "..");

/** A port that was free a moment ago (bind 0, read, close). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => ok(port));
    });
  });
}
const LOOPBACK = "127.0.0.1";

/** A service process a test may kill and restart. */
export interface ServiceProcess {
  /** Current URL (the port changes on restart: port 0 every time). */
  url(): string;
  pid(): number | undefined;
  /** SIGKILL (no cleanup: as a crash or an OOM kill) and wait for the exit. */
  kill(): Promise<void>;
  /** Start again (after a kill), on a fresh free port. */
  start(): Promise<void>;
  running(): boolean;
  log(): string;
}

function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  logFile: string,
  ready: (log: string) => string | undefined,
  timeoutMs = 20_000,
): ServiceProcess {
  let proc: Bun.Subprocess | undefined;
  let url = "";
  let generation = 0;
  const api: ServiceProcess = {
    url: () => url,
    pid: () => proc?.pid,
    running: () => proc !== undefined && proc.exitCode === null && proc.signalCode === null,
    log: () => {
      try {
        return readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    async kill() {
      if (!proc) return;
      proc.kill("SIGKILL");
      await proc.exited;
      proc = undefined;
    },
    async start() {
      generation++;
      const file = `${logFile}.${generation}`;
      writeFileSync(file, "");
      proc = Bun.spawn(["bun", script], {
        env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
        stdout: Bun.file(file),
        stderr: Bun.file(`${file}.err`),
      });
      const end = performance.now() + timeoutMs;
      for (;;) {
        const text = `${(() => {
          try {
            return readFileSync(file, "utf8");
          } catch {
            return "";
          }
        })()}\n${(() => {
          try {
            return readFileSync(`${file}.err`, "utf8");
          } catch {
            return "";
          }
        })()}`;
        const u = ready(text);
        if (u !== undefined) {
          url = u;
          return;
        }
        if (proc.exitCode !== null || performance.now() > end)
          throw new Error(`${name} did not start: ${text.slice(-2000)}`);
        await Bun.sleep(25);
      }
    },
  };
  return api;
}

/** Options of {@link startClusterRig}. */
export interface ClusterRigOptions {
  /** The attestation policy nodes must satisfy (qemu-vtpm measurements). */
  readonly policy: AttestationPolicy;
  /** Start the JoinService process (default true; load tests serve the app in-process instead). */
  readonly joinService?: boolean;
}

export interface ClusterRig {
  readonly dir: string;
  readonly kms: ServiceProcess;
  readonly joinService: ServiceProcess | undefined;
  readonly stateDb: string;
  /** The key the KMS must derive for a disk (recomputed here from the master secret). */
  expectedDiskKey(uuid: string): Promise<Uint8Array>;
  /** A fetch with the JoinService's client certificate (what the in-process JoinService uses). */
  readonly joinServiceFetch: (url: string, init?: RequestInit) => Promise<Response>;
  stop(): Promise<void>;
}

/** Start KMS (and the JoinService) with fresh PKI, state and master secret under a temporary directory. */
export async function startClusterRig(opts: ClusterRigOptions): Promise<ClusterRig> {
  const dir = join(
    tmpdir(),
    `asterism-rig-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  );
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = new Date();
  const ca = await createClusterCa({ now });
  const kmsCert = await issueServiceCertificate(ca, {
    service: "kms",
    usage: "server",
    ipAddresses: [LOOPBACK],
    now,
  });
  const jsCert = await issueServiceCertificate(ca, { service: "join-service", usage: "client", now });
  const f = (name: string, text: string, mode = 0o600) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode });
    return p;
  };
  const caFile = f("ca.crt", ca.certPem, 0o644);
  const kmsCrt = f("kms.crt", kmsCert.certPem, 0o644);
  const kmsKey = f("kms.key", kmsCert.keyPem);
  const jsCrt = f("join-service.crt", jsCert.certPem, 0o644);
  const jsKey = f("join-service.key", jsCert.keyPem);
  const master = crypto.getRandomValues(new Uint8Array(64));
  const masterKey = master.slice(0, 32);
  const masterSalt = master.slice(32);
  const masterFile = f(
    "master-secret.json",
    JSON.stringify({ key: toBase64(masterKey), salt: toBase64(masterSalt) }),
  );
  const clusterKeys = await ClusterKeys.create(masterKey.slice(), masterSalt.slice());

  const pkiDir = join(dir, "pki");
  mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
  await writeControlPlaneFiles(pkiDir, clusterPkiFiles(await generateClusterPki()));
  const stateDb = join(dir, "state.db");
  const state = openClusterState(`sqlite:${stateDb}`);
  await writeJoinConfig(state, {
    policy: opts.policy,
    measurementSalt: crypto.getRandomValues(new Uint8Array(32)),
    kubernetesVersion: "v1.31.13",
    components: [],
  });
  state.close();
  // A fixed KMS port for the whole test: the JoinService is configured with one KMS URL, and a KMS
  // restarted after a kill must come back where it was (as a Kubernetes Service address would).
  const kmsPort = await freePort();

  const kms = startProcess(
    "kms",
    join(REPO, "apps", "kms", "src", "main.ts"),
    {
      KMS_MODE: "cluster",
      KMS_HOST: LOOPBACK,
      KMS_PORT: String(kmsPort),
      KMS_TLS_CERT_FILE: kmsCrt,
      KMS_TLS_KEY_FILE: kmsKey,
      KMS_CA_CERT_FILE: caFile,
      KMS_MASTER_SECRET_FILE: masterFile,
    },
    join(dir, "kms.log"),
    (log) => {
      const m = /"msg":"kms.listening".*?"port":(\d+)/.exec(log);
      return m ? `https://${LOOPBACK}:${m[1]}` : undefined;
    },
  );
  await kms.start();

  const endpoints = join(dir, "join-service.endpoints.json");
  const joinService =
    opts.joinService === false
      ? undefined
      : startProcess(
          "join-service",
          join(REPO, "apps", "join-service", "src", "main.ts"),
          {
            ASTERISM_STATE: `sqlite:${stateDb}`,
            ASTERISM_JOIN_LISTEN: `${LOOPBACK}:0`,
            ASTERISM_HTTP_LISTEN: `${LOOPBACK}:0`,
            ASTERISM_PKI_DIR: pkiDir,
            ASTERISM_KMS_URL: kms.url(),
            ASTERISM_KMS_CA_FILE: caFile,
            ASTERISM_KMS_CERT_FILE: jsCrt,
            ASTERISM_KMS_KEY_FILE: jsKey,
            ASTERISM_API_SERVER_ENDPOINT: `${LOOPBACK}:6443`,
            ASTERISM_POLICY_RELOAD_MS: "500",
            ASTERISM_ENDPOINTS_FILE: endpoints,
            ASTERISM_LOG_LEVEL: "warn",
          },
          join(dir, "join-service.log"),
          () => {
            try {
              return (JSON.parse(readFileSync(endpoints, "utf8")) as { join?: string }).join;
            } catch {
              return undefined;
            }
          },
        );
  if (joinService) {
    // A restarted JoinService announces a new port: never read the previous run's announcement.
    const start = joinService.start;
    joinService.start = async () => {
      rmSync(endpoints, { force: true });
      await start();
    };
    await joinService.start();
  }

  return {
    dir,
    kms,
    joinService,
    stateDb,
    expectedDiskKey: (uuid) => clusterKeys.derive({ purpose: "dataKey", id: uuid, length: 32 }),
    joinServiceFetch: createMtlsFetch({
      caCertPem: ca.certPem,
      certPem: jsCert.certPem,
      keyPem: jsCert.keyPem,
    }),
    async stop() {
      await joinService?.kill();
      await kms.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
