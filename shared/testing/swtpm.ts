import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manufactureTpm } from "@asterism/node-vm";

/** A running swtpm owned by one test file. */
export interface SwtpmInstance {
  readonly host: string;
  /** TPM command port. */
  readonly port: number;
  /** Control port; always `port + 1`, which tpm2-tools' swtpm TCTI assumes. */
  readonly ctrlPort: number;
  readonly stateDir: string;
  /** `swtpm:host=…,port=…` for TPM2TOOLS_TCTI. */
  readonly tcti: string;
  /**
   * With `ekCertificates: true`: the private CA (swtpm_localca) that signed the EK certificates, as PEM
   * file paths (root, then the issuing intermediate).
   */
  readonly ca?: { readonly rootCert: string; readonly issuerCert: string };
  /** Kill swtpm (SIGTERM, then SIGKILL) and delete its state directory. Idempotent. */
  stop(): Promise<void>;
}

const HOST = "127.0.0.1";
/** Attempts to find a free port pair and start swtpm on it (other agents start servers concurrently). */
const START_ATTEMPTS = 10;
/** How long swtpm may take to open its ports. */
const READY_TIMEOUT_MS = 5000;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, HOST, () => s.close(() => resolve(true)));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: HOST, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

async function waitReady(port: number, exited: () => boolean): Promise<boolean> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited()) return false;
    // Probe the data port: a probe on the control port would occupy swtpm's single control client slot.
    if (await canConnect(port)) return true;
    await Bun.sleep(20);
  }
  return false;
}

/** Options of {@link startSwtpm}. */
export interface StartSwtpmOptions {
  /**
   * Manufacture the TPM first with `swtpm_setup` and a private swtpm_localca CA in the state directory:
   * RSA-2048 and ECC P-384 EKs with certificates in NV (0x01c00002, 0x01c00016), a platform certificate,
   * sha1+sha256 banks. Takes 1–4 s.
   */
  readonly ekCertificates?: boolean;
}

/**
 * Start a fresh swtpm (TPM 2.0) on free loopback ports with its own temporary state directory. The TPM
 * is NOT powered on: the transport (`openSwtpm`) does CMD_INIT and TPM2_Startup, as it would on a
 * freshly started VM. Call `stop()` in `afterAll`.
 *
 * @example
 * let sw: SwtpmInstance;
 * beforeAll(async () => { sw = await startSwtpm(); });
 * afterAll(() => sw.stop());
 */
export async function startSwtpm(opts: StartSwtpmOptions = {}): Promise<SwtpmInstance> {
  const stateDir = await mkdtemp(join(tmpdir(), "asterism-swtpm-"));
  let ca: SwtpmInstance["ca"];
  if (opts.ekCertificates) {
    try {
      // The same manufacturing as a node VM gets, so tests see the TPM identity production sees.
      ca = await manufactureTpm(stateDir, join(stateDir, "tpm"));
    } catch (err) {
      await rm(stateDir, { recursive: true, force: true });
      throw err;
    }
  }
  let lastErr = "";
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 19000);
    if (!(await portFree(port)) || !(await portFree(port + 1))) continue;
    const proc = Bun.spawn(
      [
        "swtpm",
        "socket",
        "--tpm2",
        "--server",
        `type=tcp,port=${port},bindaddr=${HOST}`,
        "--ctrl",
        `type=tcp,port=${port + 1},bindaddr=${HOST}`,
        "--tpmstate",
        `dir=${ca ? join(stateDir, "tpm") : stateDir}`,
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    let exited = false;
    void proc.exited.then(() => {
      exited = true;
    });
    if (await waitReady(port, () => exited)) {
      let stopped = false;
      return {
        host: HOST,
        port,
        ctrlPort: port + 1,
        stateDir,
        tcti: `swtpm:host=${HOST},port=${port}`,
        ...(ca ? { ca } : {}),
        async stop() {
          if (stopped) return;
          stopped = true;
          proc.kill("SIGTERM");
          const done = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
          if (!done) {
            proc.kill("SIGKILL");
            await proc.exited;
          }
          await rm(stateDir, { recursive: true, force: true });
        },
      };
    }
    proc.kill("SIGKILL");
    await proc.exited;
    lastErr = await new Response(proc.stderr).text();
  }
  await rm(stateDir, { recursive: true, force: true });
  throw new Error(`could not start swtpm after ${START_ATTEMPTS} attempts: ${lastErr.trim()}`);
}
