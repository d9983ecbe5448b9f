import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  DEFAULT_BOOT_COMPONENTS,
  readBootComponents,
  writeDefaultBootComponents,
} from "../../boot/components.ts";
import { precomputeBootMeasurements } from "../../boot/precompute.ts";
import { defineCommand, ExitCode } from "../../command.ts";
import { generateConfig } from "../../config/generate.ts";
import { loadConfig } from "../../config/load.ts";
import { stringOption } from "../../input.ts";
import { defaultBinDir, selfCommand } from "../../mini/binaries.ts";
import { stopMini } from "../../mini/down.ts";
import { MiniError } from "../../mini/errors.ts";
import { renderUpSummary } from "../../mini/summary.ts";
import { miniUp } from "../../mini/up.ts";
import { createProgress } from "../../ui/progress.ts";
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

/** `asterism mini up`: a local confidential cluster (processes, swtpm, measured boot, aTLS init). */
export const upCommand = defineCommand({
  name: "up",
  summary: "Start a local confidential cluster: N control-plane + M worker nodes as local processes",
  description: [
    "Each node is the compiled bootstrapper with its own swtpm, state-disk image (LUKS2) and a measured boot",
    "(the declared boot components extended into PCRs and recorded in a TCG event log). The metadata endpoint,",
    "KMS, JoinService and a VerificationService per node run as their compiled binaries on 127.0.0.1. The first",
    "control plane is initialized over attested TLS, the others join, and every node is verified.",
    "Without a configuration, a qemu one is generated (`config generate qemu`). There are no kubelets: no",
    "Kubernetes binaries exist for this machine (see README).",
  ].join("\n"),
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    {
      name: "nodes",
      type: "string",
      value: "N",
      description: "Control-plane nodes (default: the config's, 1)",
    },
    { name: "workers", type: "string", value: "M", description: "Worker nodes (default: the config's, 1)" },
    {
      name: "bin-dir",
      type: "string",
      value: "DIR",
      description: "Compiled service binaries (default: beside asterism, or <repo>/dist)",
    },
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
    "asterism mini up --owner --open   # passkey owners; JoinService and KMS pinned to their anchor",
    "asterism mini up --nodes 3 --workers 2",
    "asterism mini up -C /tmp/demo --output json",
  ],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const configPath = configPathFrom(ctx, ws);
    const cps = count(ctx.values["nodes"], "nodes", 1);
    const workers = count(ctx.values["workers"], "workers", 0);
    for (const tool of ["swtpm", "cryptsetup"]) {
      if (!which(tool))
        throw new MiniError("HOST_UNSUPPORTED", `mini up needs ${tool}`, {
          expected: `${tool} in PATH (bash scripts/setup.sh installs it)`,
        });
    }
    const progress = createProgress(ctx.io);
    if (!existsSync(configPath)) {
      mkdirSync(dirname(configPath), { recursive: true });
      writeDefaultBootComponents(dirname(configPath), DEFAULT_BOOT_COMPONENTS, "qemu-vtpm");
      const measurements = precomputeBootMeasurements(
        readBootComponents(dirname(configPath), DEFAULT_BOOT_COMPONENTS),
      );
      writeFileSync(
        configPath,
        generateConfig({
          provider: "qemu",
          variant: "qemu-vtpm",
          name: "mini",
          measurements,
          controlPlanes: cps ?? 1,
          workers: workers ?? 1,
        }),
      );
      progress.info(`wrote ${configPath} (asterism config generate qemu)`);
    }
    const config = loadConfig(configPath);
    if (!config.provider.qemu || config.attestation.variant !== "qemu-vtpm") {
      throw new MiniError("CONFIG_UNSUPPORTED", `mini up runs qemu-vtpm clusters only`, {
        expected: "provider.qemu with attestation.variant qemu-vtpm",
        actual: `${Object.keys(config.provider).join(",")} / ${config.attestation.variant}`,
      });
    }
    const binDir = stringOption(ctx.values["bin-dir"], "bin-dir") ?? defaultBinDir(ctx.io.env);
    const withOwners = ctx.values["owner"] === true;
    if (!withOwners && ctx.values["threshold"] !== undefined)
      throw new UsageError("BAD_OPTION", "--threshold needs --owner");
    const owner = withOwners
      ? {
          threshold: intOption(ctx.values["threshold"], "threshold", 1, 1, 16),
          settings: ceremonySettings(ctx.values),
          io: ctx.io,
        }
      : undefined;
    // The nodes run in their own sessions, so Ctrl-C does not reach them: stop what was started ourselves.
    const onInterrupt = () => {
      progress.info("interrupted: stopping what was started …");
      void stopMini(ws, { removeFiles: false }).finally(() => process.exit(130));
    };
    process.once("SIGINT", onInterrupt);
    const result = await miniUp({
      ws,
      config,
      configPath,
      configDir: dirname(configPath),
      controlPlanes: cps ?? Math.max(1, config.nodeGroups.controlPlane.initialCount),
      workers: workers ?? config.nodeGroups.worker.initialCount,
      binDir,
      self: selfCommand(),
      progress,
      keepOnFailure: ctx.values["keep-on-failure"] === true,
      ...(owner ? { owner } : {}),
    }).finally(() => process.off("SIGINT", onInterrupt));
    ctx.io.stdout(ctx.json ? `${JSON.stringify(result)}\n` : renderUpSummary(ctx.io, result));
    return ExitCode.OK;
  },
});
