/**
 * A node's software TPM as a long-lived process (unlike the test helper's, it survives the CLI): its
 * state directory lives in the node's directory, and its PID is recorded for `mini down`.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MiniError } from "./errors.ts";
import { canConnect, LOOPBACK, portFree, waitFor } from "./ports.ts";
import { type DaemonRecord, isRunning, logTail, startDaemon, stopDaemon } from "./processes.ts";

/** A running swtpm. */
export interface SwtpmDaemon {
  readonly record: DaemonRecord;
  /** TPM command port; the control port is `port + 1` (what tpm2-tools' swtpm TCTI assumes). */
  readonly port: number;
  readonly ctrlPort: number;
}

/** Attempts at a free port pair (other agents and tests start servers concurrently). */
const START_ATTEMPTS = 10;
/** swtpm opens its ports within milliseconds; allow for a loaded machine. */
const READY_TIMEOUT_MS = 10_000;

/**
 * Start swtpm for a node, TPM 2.0, both ports on 127.0.0.1, state in `<nodeDir>/tpm`. The TPM is not
 * powered on: the simulated firmware does CMD_INIT and TPM2_Startup, as on a VM's first instruction.
 */
export async function startSwtpmDaemon(nodeDir: string): Promise<SwtpmDaemon> {
  const stateDir = join(nodeDir, "tpm");
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const log = join(nodeDir, "swtpm.log");
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = 20000 + 2 * Math.floor(Math.random() * 19000);
    if (!(await portFree(port)) || !(await portFree(port + 1))) continue;
    const record = startDaemon({
      name: "swtpm",
      argv: [
        "swtpm",
        "socket",
        "--tpm2",
        "--server",
        `type=tcp,port=${port},bindaddr=${LOOPBACK}`,
        "--ctrl",
        `type=tcp,port=${port + 1},bindaddr=${LOOPBACK}`,
        "--tpmstate",
        `dir=${stateDir}`,
      ],
      env: {},
      log,
    });
    // Probe the data port: a probe on the control port would take swtpm's single control client slot.
    const ready = await waitFor(async () => ((await canConnect(port)) ? true : undefined), {
      timeoutMs: READY_TIMEOUT_MS,
      alive: () => isRunning(record),
    });
    if (ready) return { record, port, ctrlPort: port + 1 };
    await stopDaemon(record, 1000);
  }
  throw new MiniError("START_FAILED", `Cannot start swtpm for ${nodeDir}`, {
    expected: `a free port pair within ${START_ATTEMPTS} attempts`,
    actual: logTail(log) || "no log output",
  });
}
