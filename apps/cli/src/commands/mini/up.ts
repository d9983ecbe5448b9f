import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { CLUSTER_ID_INDEX, type Measurements } from "@asterism/measurements";
import { OVMF_CODE, OVMF_VARS_TEMPLATE } from "@asterism/node-vm";
import {
  DEFAULT_BOOT_COMPONENTS,
  readBootComponents,
  writeDefaultBootComponents,
} from "../../boot/components.ts";
import { IMAGE_PCR_MEANINGS } from "../../boot/events.ts";
import { precomputeBootMeasurements } from "../../boot/precompute.ts";
import { defineCommand, ExitCode } from "../../command.ts";
import { generateConfig } from "../../config/generate.ts";
import { loadConfig } from "../../config/load.ts";
import { stringOption } from "../../input.ts";
import { defaultBinDir, selfCommand } from "../../mini/binaries.ts";
import { stopMini } from "../../mini/down.ts";
import { MiniError } from "../../mini/errors.ts";
import type { MiniUpResult } from "../../mini/session.ts";
import { renderUpSummary } from "../../mini/summary.ts";
import { miniUp } from "../../mini/up.ts";
import { defaultImagePath, ensureImage, measureImage } from "../../mini/vm-image.ts";
import { miniUpVm } from "../../mini/vm-up.ts";
import { createProgress, type Progress } from "../../ui/progress.ts";
import { UsageError } from "../../usage-error.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";
import { CEREMONY_OPTIONS, ceremonySettings } from "../owner/ceremony.ts";
import { intOption } from "../owner/shared.ts";

/** Most nodes `mini up` starts: each is a swtpm and two or three processes on a shared machine. */
const MAX_NODES = 8;

function count(value: unknown, option: string, min: number): number | undefined {
  const s = stringOption(value, option);
  if (s === undefined) return undefined;
  const n = /^\d{1,2}$/.test(s) ? Number(s) : Number.NaN;
  if (!(n >= min && n <= MAX_NODES))
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, { expected: `${min}..${MAX_NODES}`, actual: s });
  return n;
}

function which(cmd: string): boolean {
  return (process.env["PATH"] ?? "").split(":").some((d) => d && existsSync(`${d}/${cmd}`));
}

/** What each kind of local cluster needs on the host (scripts/apt-packages.txt installs all of it). */
function requireHostTools(vm: boolean): void {
  const tools = vm ? ["qemu-system-x86_64", "swtpm", "swtpm_setup", "socat"] : ["swtpm", "cryptsetup"];
  const files = vm ? [OVMF_CODE, OVMF_VARS_TEMPLATE] : [];
  const missing = [...tools.filter((t) => !which(t)), ...files.filter((f) => !existsSync(f))];
  if (missing.length)
    throw new MiniError("HOST_UNSUPPORTED", `mini up${vm ? " --vm" : ""} needs ${missing.join(", ")}`, {
      expected: "them installed (bash scripts/setup.sh installs them)",
    });
}

/** Guest memory per VM node: enough for the bootstrapper, the services and dm-crypt; bounded for a shared host. */
function memoryMiB(value: unknown): number {
  const s = stringOption(value, "memory");
  if (s === undefined) return 1024;
  const n = /^\d{3,5}$/.test(s) ? Number(s) : Number.NaN;
  if (!(n >= 512 && n <= 16384))
    throw new UsageError("BAD_VALUE", "Invalid --memory", { expected: "512..16384 (MiB)", actual: s });
  return n;
}

/** Write a qemu-vtpm configuration when the workspace has none (the process cluster's boot components too). */
function ensureConfig(
  configPath: string,
  progress: Progress,
  o: { cps: number | undefined; workers: number | undefined; vmMeasurements?: Measurements },
): void {
  if (existsSync(configPath)) return;
  mkdirSync(dirname(configPath), { recursive: true });
  // PCR 15 is the cluster ID's (the policy sets it); a configuration does not list it.
  let measurements: Measurements | undefined =
    o.vmMeasurements && new Map([...o.vmMeasurements].filter(([i]) => i !== CLUSTER_ID_INDEX[32]));
  if (!measurements) {
    writeDefaultBootComponents(dirname(configPath), DEFAULT_BOOT_COMPONENTS, "qemu-vtpm");
    measurements = precomputeBootMeasurements(
      readBootComponents(dirname(configPath), DEFAULT_BOOT_COMPONENTS),
    );
  }
  writeFileSync(
    configPath,
    generateConfig({
      provider: "qemu",
      variant: "qemu-vtpm",
      name: "mini",
      measurements,
      ...(o.vmMeasurements
        ? {
            measurementsFrom: {
              note: "Precomputed from the node image (`asterism measurements precompute --image`); `mini up --vm`\nrefuses to boot an image whose measurements differ.",
              meanings: IMAGE_PCR_MEANINGS,
            },
          }
        : {}),
      controlPlanes: o.cps ?? 1,
      workers: o.workers ?? 1,
    }),
  );
  progress.info(
    `wrote ${configPath} (asterism config generate qemu${o.vmMeasurements ? ", measurements of the node image" : ""})`,
  );
}

/** `asterism mini up`: a local confidential cluster (processes, swtpm, measured boot, aTLS init). */
export const upCommand = defineCommand({
  name: "up",
  summary:
    "Start a local confidential cluster: N control-plane + M worker nodes (processes, or VMs with --vm)",
  description: [
    "Each node is the compiled bootstrapper with its own swtpm, state-disk image (LUKS2) and a measured boot",
    "(the declared boot components extended into PCRs and recorded in a TCG event log). The metadata endpoint,",
    "KMS, JoinService and a VerificationService per node run as their compiled binaries on 127.0.0.1. The first",
    "control plane is initialized over attested TLS, the others join, and every node is verified.",
    "Without a configuration, a qemu one is generated (`config generate qemu`). There are no kubelets: no",
    "Kubernetes binaries exist for this machine (see README).",
    "",
    "With --vm every node is a QEMU guest (OVMF, its own swtpm vTPM) booted from the node image: the real",
    "boot is measured, the state disk is a dm-crypt mapping inside the guest, control-plane-0 runs the KMS and",
    "JoinService, and the policy is the image's precomputed measurements (the configuration must hold exactly",
    "those; a new one is written with them). Under software emulation each boot takes a minute or more.",
  ].join("\n"),
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    {
      name: "control-planes",
      type: "string",
      value: "N",
      description: "Control-plane nodes (default: the config's, 1)",
    },
    { name: "nodes", type: "string", value: "N", description: "Same as --control-planes (older spelling)" },
    { name: "workers", type: "string", value: "M", description: "Worker nodes (default: the config's, 1)" },
    {
      name: "bin-dir",
      type: "string",
      value: "DIR",
      description: "Compiled service binaries (default: beside asterism, or <repo>/dist)",
    },
    { name: "vm", type: "boolean", description: "Nodes as QEMU VMs booted from the node image" },
    {
      name: "image",
      type: "string",
      value: "FILE",
      description: "With --vm: the node image (default <bin dir>/image/asterism-node.raw, built if missing)",
    },
    { name: "memory", type: "string", value: "MiB", description: "With --vm: guest memory per node (1024)" },
    { name: "keep-on-failure", type: "boolean", description: "Leave processes running if a step fails" },
    {
      name: "owner",
      type: "boolean",
      description:
        "Enroll the cluster's owners (passkeys, in a browser) and have them approve the initial policy before init",
    },
    {
      name: "threshold",
      type: "string",
      value: "M",
      description: "With --owner: owners needed per change (default 1)",
    },
    ...CEREMONY_OPTIONS,
  ],
  examples: [
    "asterism mini up",
    "asterism mini up --control-planes 3 --workers 2",
    "asterism mini up --vm --workers 1",
    "asterism mini up --owner --open   # passkey owners; JoinService and KMS pinned to their anchor",
    "asterism mini up -C /tmp/demo --output json",
  ],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const configPath = configPathFrom(ctx, ws);
    const vm = ctx.values["vm"] === true;
    if (!vm && (ctx.values["image"] !== undefined || ctx.values["memory"] !== undefined))
      throw new UsageError("BAD_OPTION", "--image and --memory apply to VM nodes", { expected: "--vm" });
    if (ctx.values["nodes"] !== undefined && ctx.values["control-planes"] !== undefined)
      throw new UsageError("BAD_OPTION", "Use --control-planes or --nodes, not both", { expected: "one" });
    const cps =
      count(ctx.values["control-planes"], "control-planes", 1) ?? count(ctx.values["nodes"], "nodes", 1);
    const workers = count(ctx.values["workers"], "workers", 0);
    const memory = vm ? memoryMiB(ctx.values["memory"]) : 0;
    const withOwners = ctx.values["owner"] === true;
    if (!withOwners && ctx.values["threshold"] !== undefined)
      throw new UsageError("BAD_OPTION", "--threshold needs --owner");
    // A VM cluster's JoinService runs inside control-plane-0 and is provisioned from the init request,
    // which does not carry the owners' log yet (docs/owner.md, "Limits").
    if (withOwners && vm)
      throw new UsageError("BAD_OPTION", "--owner is not available with --vm yet", {
        expected: "mini up --owner (process nodes) or mini up --vm without --owner",
      });
    requireHostTools(vm);
    const progress = createProgress(ctx.io);
    const binDir = stringOption(ctx.values["bin-dir"], "bin-dir") ?? defaultBinDir(ctx.io.env);
    const owner = withOwners
      ? {
          threshold: intOption(ctx.values["threshold"], "threshold", 1, 1, 16),
          settings: ceremonySettings(ctx.values),
          io: ctx.io,
        }
      : undefined;
    let image: { path: string; measurements: Measurements } | undefined;
    if (vm) {
      const given = stringOption(ctx.values["image"], "image");
      const path = await ensureImage(
        given === undefined ? defaultImagePath(binDir) : resolve(ctx.io.cwd, given),
        binDir,
        (step) => progress.info(`no node image yet: ${step} (minutes) …`),
      );
      image = { path, measurements: measureImage(path) };
    }
    ensureConfig(configPath, progress, {
      cps,
      workers,
      ...(image ? { vmMeasurements: image.measurements } : {}),
    });
    const config = loadConfig(configPath);
    if (!config.provider.qemu || config.attestation.variant !== "qemu-vtpm") {
      throw new MiniError("CONFIG_UNSUPPORTED", `mini up runs qemu-vtpm clusters only`, {
        expected: "provider.qemu with attestation.variant qemu-vtpm",
        actual: `${Object.keys(config.provider).join(",")} / ${config.attestation.variant}`,
      });
    }
    // The nodes run in their own sessions, so Ctrl-C does not reach them: stop what was started ourselves.
    const onInterrupt = () => {
      progress.info("interrupted: stopping what was started …");
      void stopMini(ws, { removeFiles: false }).finally(() => process.exit(130));
    };
    process.once("SIGINT", onInterrupt);
    const common = {
      ws,
      config,
      configPath,
      controlPlanes: cps ?? Math.max(1, config.nodeGroups.controlPlane.initialCount),
      workers: workers ?? config.nodeGroups.worker.initialCount,
      self: selfCommand(),
      progress,
      keepOnFailure: ctx.values["keep-on-failure"] === true,
    };
    const result: MiniUpResult = await (image
      ? miniUpVm({ ...common, image: image.path, imageMeasurements: image.measurements, memoryMiB: memory })
      : miniUp({ ...common, configDir: dirname(configPath), binDir, ...(owner ? { owner } : {}) })
    ).finally(() => process.off("SIGINT", onInterrupt));
    ctx.io.stdout(ctx.json ? `${JSON.stringify(result)}\n` : renderUpSummary(ctx.io, result));
    return ExitCode.OK;
  },
});
