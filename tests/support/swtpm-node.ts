/**
 * TEST-ONLY: a simulated node on a real swtpm whose process a fault test can SIGKILL and restart with its
 * state intact (as a vTPM's state file outlives a crash of its emulator), and that can "reboot": power
 * cycle the TPM, measure the image, measure its identity event into PCR 16 — what a real node's firmware
 * and bootstrapper do before joining. Its issuer is the production node issuer (persistent AK).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Issuer } from "@asterism/attestation";
import {
  bootLocalNode,
  createNodeIssuer,
  type LocalImage,
  measureNodeIdentity,
  type NodeIdentity,
  type NodeTpm,
  openNodeTpm,
} from "@asterism/lifecycle";
import { freePort } from "./cluster-rig.ts";

export interface SwtpmNode {
  readonly identity: NodeIdentity;
  /** The swtpm command port (control port + 1), for services of this node that open the TPM themselves. */
  readonly tpmPort: number;
  readonly issuer: Issuer;
  /** Power-cycle and re-measure (image, then identity), as a reboot does. */
  reboot(): Promise<void>;
  /** SIGKILL the swtpm process (state kept on disk). */
  killTpm(): Promise<void>;
  /** Start swtpm again on the same ports and state (not powered on: `reboot` does that). */
  startTpm(): Promise<void>;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function createSwtpmNode(identity: NodeIdentity, image: LocalImage): Promise<SwtpmNode> {
  const stateDir = mkdtempSync(join(tmpdir(), "asterism-node-tpm-"));
  // swtpm needs two adjacent ports (command, control = command + 1).
  let port = 0;
  for (let i = 0; i < 20 && port === 0; i++) {
    const p = await freePort();
    if (p < 65535 && !(await canConnect(p + 1))) port = p;
  }
  let proc: Bun.Subprocess | undefined;
  let tpm: NodeTpm | undefined;
  let eventLog: Uint8Array | undefined;

  const startTpm = async () => {
    proc = Bun.spawn(
      [
        "swtpm",
        "socket",
        "--tpm2",
        "--server",
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        "--ctrl",
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        "--tpmstate",
        `dir=${stateDir}`,
      ],
      { stdout: "ignore", stderr: "ignore" },
    );
    for (let i = 0; i < 200; i++) {
      if (await canConnect(port)) return;
      if (proc.exitCode !== null) throw new Error(`swtpm exited ${proc.exitCode}`);
      await Bun.sleep(10);
    }
    throw new Error("swtpm did not open its port");
  };
  const killTpm = async () => {
    proc?.kill("SIGKILL");
    await proc?.exited;
    proc = undefined;
  };
  const reboot = async () => {
    await tpm?.close();
    await bootLocalNode({ host: "127.0.0.1", port, ctrlPort: port + 1 }, image);
    tpm = await openNodeTpm({ kind: "swtpm", host: "127.0.0.1", port }, { idleMs: 20, timeoutMs: 5000 });
    eventLog = await measureNodeIdentity(tpm, identity);
  };

  // Other agents bind ports too: on a collision, pick another pair (only before the first start; a
  // restart must come back on the same ports).
  for (let attempt = 0; ; attempt++) {
    try {
      await startTpm();
      break;
    } catch (err) {
      if (attempt >= 5) throw err;
      port = 0;
      for (let i = 0; i < 20 && port === 0; i++) {
        const p = await freePort();
        if (p < 65535 && !(await canConnect(p + 1))) port = p;
      }
    }
  }
  await reboot();
  const issuer = {
    variant: "qemu-vtpm" as const,
    // The node issuer over whatever TPM connection is current (a reboot reopens it).
    async issue(userData: Uint8Array, nonce: Uint8Array) {
      if (!tpm) throw new Error("node not booted");
      return createNodeIssuer({ tpm, readEventLog: async () => eventLog }).issue(userData, nonce);
    },
  };
  return {
    identity,
    tpmPort: port,
    issuer,
    reboot,
    killTpm,
    startTpm,
    async stop() {
      await tpm?.close().catch(() => undefined);
      await killTpm();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
