/**
 * `mini reboot <node>` of a VM node: a real machine reset (QMP `system_reset`). The vTPM resets with the
 * machine, OVMF measures the image again, and the bootstrapper starts afresh: it finds PCR 15 = 0 and
 * an encrypted state disk, and rejoins through control-plane-0's JoinService, which hands it the disk
 * key only if its boot still meets the policy. The reboot waits for the new boot, then until the node
 * verifies again with PCR 15 = the cluster ID (it has rejoined and unlocked its disk).
 *
 * Control-plane-0 is the cluster's only JoinService here: rebooted, it has nobody to rejoin through and
 * serves its recovery endpoint instead (recorded for `asterism recover`).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fromHex } from "@asterism/bytes";
import { GUEST_PORTS, resetNodeVm } from "@asterism/node-vm";
import { nodePolicy } from "../cluster/policy.ts";
import type { verifyNode } from "../cluster/verify-client.ts";
import type { Config } from "../config/schema.ts";
import type { WorkspacePaths } from "../workspace/paths.ts";
import { type MiniNode, type State, writeState } from "../workspace/state.ts";
import { MiniError } from "./errors.ts";
import { waitFor } from "./ports.ts";
import { isRunning } from "./processes.ts";
import { type MiniCommonOptions, verifyStep } from "./session.ts";
import { type FetchLike, forwardedUrl, waitForVmPhase } from "./vm-node.ts";
import { VM_TIMEOUTS } from "./vm-up.ts";

/** What a VM reboot reports. */
export interface VmRebootResult {
  readonly verifyUrl: string;
  /** The node verified again after the reset (it rejoined). */
  readonly rejoined: boolean;
  /** Control-plane-0: where it serves recovery instead. */
  readonly recoveryUrl?: string;
}

/** Options of {@link rebootVmNode}. */
export interface VmRebootOptions {
  readonly ws: WorkspacePaths;
  readonly config: Config;
  readonly state: State;
  readonly node: MiniNode;
  /** Return right after the reset instead of waiting for the rejoin. */
  readonly noWait?: boolean;
  readonly progress: MiniCommonOptions["progress"];
  readonly timeouts?: Partial<Pick<typeof VM_TIMEOUTS, "bootMs" | "joinMs">>;
  readonly deps?: {
    readonly reset?: (vmDir: string) => Promise<void>;
    readonly fetch?: FetchLike;
    readonly verifyNode?: typeof verifyNode;
  };
}

const BOOT_REPORT_END = "ASTERISM-PCRS-END";

function size(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/** Reset the VM node and (unless noWait) wait for it to rejoin, or to serve recovery (control-plane-0). */
export async function rebootVmNode(o: VmRebootOptions): Promise<VmRebootResult> {
  const { node, state } = o;
  const vm = node.vm;
  const qemu = node.processes.find((p) => p.name === "qemu");
  if (!vm || !qemu || !isRunning(qemu))
    throw new MiniError("NOT_RUNNING", `The VM of ${node.name} is not running`, {
      expected: "a running VM node (`asterism mini status`)",
    });
  const verifyUrl = forwardedUrl(vm.ports, GUEST_PORTS.verify, "http") ?? "";
  const statusBase = forwardedUrl(vm.ports, GUEST_PORTS.bootstrapperStatus, "http") ?? "";
  const recoveryUrl = forwardedUrl(vm.ports, GUEST_PORTS.recovery, "https");
  const isJoinService = node.endpoints["join"] !== undefined;
  const t = { ...VM_TIMEOUTS, ...o.timeouts };

  // The boot report (second serial port, appended on every boot) tells the new boot from the old one.
  const report = join(vm.dir, "boot-report.log");
  const before = size(report);
  await (o.deps?.reset ?? resetNodeVm)(vm.dir);
  // The previous boot's init and recovery listeners are gone.
  const { init: _init, recovery: _recovery, ...kept } = node.endpoints;
  const save = (endpoints: Record<string, string>) =>
    writeState(o.ws.state, {
      ...state,
      mini: state.mini && {
        ...state.mini,
        nodes: state.mini.nodes.map((n) => (n.name === node.name ? { ...n, endpoints } : n)),
      },
    });
  save(kept);
  if (o.noWait) return { verifyUrl, rejoined: false };

  const alive = () => isRunning(qemu);
  await o.progress.step(`Reset ${node.name}: boot again (serial console ${vm.serialLog})`, async () => {
    const booted = await waitFor(
      () =>
        (size(report) > before && readFileSync(report, "utf8").slice(before).includes(BOOT_REPORT_END)) ||
        undefined,
      { timeoutMs: t.bootMs, intervalMs: 1000, alive },
    );
    if (!booted)
      throw new MiniError(alive() ? "TIMEOUT" : "START_FAILED", `${node.name} did not boot again`, {
        expected: `a new boot report within ${Math.round(t.bootMs / 1000)} s`,
        actual: `${alive() ? "none" : "the VM stopped"}; see ${vm.serialLog}`,
      });
  });

  if (isJoinService) {
    // Nobody to rejoin through: the bootstrapper waits in `rejoining` and serves recovery.
    await o.progress.step(`${node.name} waits for recovery`, () =>
      waitForVmPhase({ name: node.name, statusBase, serialLog: vm.serialLog }, ["rejoining"], {
        timeoutMs: t.bootMs,
        alive,
        ...(o.deps?.fetch ? { fetch: o.deps.fetch } : {}),
      }),
    );
    save({ ...kept, ...(recoveryUrl ? { recovery: recoveryUrl } : {}) });
    return { verifyUrl, rejoined: false, ...(recoveryUrl ? { recoveryUrl } : {}) };
  }

  const clusterId = state.clusterValues?.clusterID;
  if (!clusterId)
    throw new MiniError("NOT_RUNNING", "The local cluster has no cluster ID yet", {
      expected: "an initialized cluster",
    });
  await verifyStep(
    { progress: o.progress },
    [{ name: node.name, url: verifyUrl }],
    nodePolicy(o.config, fromHex(clusterId)),
    {
      waitMs: t.joinMs,
      logOf: () => vm.serialLog,
      ...(o.deps?.verifyNode ? { verify: o.deps.verifyNode } : {}),
    },
  );
  return { verifyUrl, rejoined: true };
}
