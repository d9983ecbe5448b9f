/**
 * `mini reboot <node>`: what a VM reset does to a node — its processes stop, the TPM is power-cycled
 * (every PCR back to its reset value), the simulated firmware measures the node's boot components again
 * (so a changed component shows up in the PCRs), and the bootstrapper starts afresh: it measures its
 * identity again and tries to rejoin, which the JoinService refuses if the boot no longer matches the
 * policy. Then the node's VerificationService is restarted. A VM node is reset for real (vm-reboot.ts).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../config/load.ts";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { requireState, writeState } from "../workspace/state.ts";
import { defaultBinDir, ensureBinaries } from "./binaries.ts";
import { MiniError } from "./errors.ts";
import {
  type BootedNode,
  bootstrapperEndpoints,
  measureBoot,
  type NodeEnvironment,
  startBootstrapper,
  startVerificationService,
  waitIdentityMeasured,
} from "./node.ts";
import { waitFor } from "./ports.ts";
import { isRunning, stopDaemon } from "./processes.ts";
import { MINI_TIMEOUTS } from "./up.ts";
import { rebootVmNode, type VmRebootOptions, type VmRebootResult } from "./vm-reboot.ts";

/** How long a rebooted control plane may take to announce its recovery endpoint. */
const RECOVERY_WAIT_MS = 3000;

/** Reboot one node; returns its new VerificationService URL (and, for a VM node, whether it rejoined). */
export async function rebootNode(
  ws: WorkspacePaths,
  configPath: string,
  name: string,
  env: Readonly<Record<string, string | undefined>>,
  vmOptions: Pick<VmRebootOptions, "progress" | "noWait">,
): Promise<{ verifyUrl: string } | VmRebootResult> {
  const state = requireState(ws.state, "a local cluster (`asterism mini up`)");
  const mini = state.mini;
  const rec = mini?.nodes.find((n) => n.name === name);
  if (!mini || !rec) {
    throw new MiniError("NOT_RUNNING", `No node ${name} in the local cluster`, {
      expected: mini?.nodes.map((n) => n.name).join(", ") || "a running local cluster",
    });
  }
  if (rec.vm)
    return await rebootVmNode({ ws, config: loadConfig(configPath), state, node: rec, ...vmOptions });
  const swtpm = rec.processes.find((p) => p.name === "swtpm");
  if (!swtpm || !isRunning(swtpm) || rec.tpmPort === undefined)
    throw new MiniError("NOT_RUNNING", `The TPM of ${name} is not running`);
  const config = loadConfig(configPath);
  const qemu = config.provider.qemu;
  if (!qemu || !mini.metadataUrl)
    throw new MiniError("CONFIG_UNSUPPORTED", "mini reboot needs a qemu configuration");
  const bins = await ensureBinaries(defaultBinDir(env));
  for (const p of rec.processes) if (p.name !== "swtpm") await stopDaemon(p);
  const node: BootedNode = {
    name: rec.name,
    role: rec.role,
    dir: rec.dir,
    swtpm,
    tpmPort: rec.tpmPort,
    runDir: join(rec.dir, "run"),
    bootDir: join(rec.dir, "boot"),
  };
  const nodeEnv: NodeEnvironment = {
    bootstrapper: bins.bootstrapper,
    verificationService: bins["verification-service"],
    metadataUrl: mini.metadataUrl,
    variant: config.attestation.variant,
    bootComponents: qemu.bootComponents,
    bootBaseDir: rec.dir,
    stateDiskMiB: qemu.stateDiskSizeMiB,
    diskPbkdf: qemu.diskPbkdf,
  };
  // The identity log of the previous boot must not be served for the new one.
  rmSync(join(node.runDir, "eventlog.bin"), { force: true });
  rmSync(join(node.runDir, "status.json"), { force: true });
  await measureBoot(node);
  const bs = startBootstrapper(node, nodeEnv);
  const save = (processes: typeof rec.processes, endpoints = rec.endpoints) => {
    const nodes = mini.nodes.map((n) => (n.name === name ? { ...n, processes, endpoints } : n));
    const verifyEndpoints = nodes.flatMap((n) => (n.endpoints["verify"] ? [n.endpoints["verify"]] : []));
    writeState(ws.state, {
      ...state,
      infrastructure: { ...state.infrastructure, verifyEndpoints },
      mini: { ...mini, nodes },
    });
  };
  save([{ ...swtpm }, { ...bs }]);
  await waitIdentityMeasured(node, bs, MINI_TIMEOUTS.serviceStartMs);
  // A rebooted control plane serves recovery while it waits to rejoin (`asterism recover` finds it here).
  const announced =
    node.role === "control-plane"
      ? ((await waitFor(() => bootstrapperEndpoints(node)["recovery"], { timeoutMs: RECOVERY_WAIT_MS })) ??
        undefined)
      : undefined;
  // The previous boot's init and recovery listeners are gone; keep only what this boot announced.
  const { recovery: _oldRecovery, init: _oldInit, ...kept } = rec.endpoints;
  const vs = await startVerificationService(node, nodeEnv, MINI_TIMEOUTS.serviceStartMs);
  save([{ ...swtpm }, { ...bs }, { ...vs.record }], {
    ...kept,
    verify: vs.url,
    ...(announced ? { recovery: announced } : {}),
  });
  return { verifyUrl: vs.url };
}
