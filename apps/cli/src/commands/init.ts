import { runInitPhase } from "../cluster/init-phase.ts";
import { defineCommand, ExitCode } from "../command.ts";
import { loadConfig } from "../config/load.ts";
import { stringOption } from "../input.ts";
import { createProgress } from "../ui/progress.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../workspace/options.ts";

/** `--endpoint` and `--init-secret-file`, shared by init and apply. */
export const INIT_OPTIONS = [
  {
    name: "endpoint",
    type: "string",
    value: "HOST:PORT",
    description: "Init endpoint of the first control-plane node (default: the state file's)",
  },
  {
    name: "init-secret-file",
    type: "string",
    value: "FILE",
    description: "The init secret whose bcrypt hash the node has (default: the state file's)",
  },
] as const;

/**
 * `asterism init`: initialize the first control-plane node at a configured endpoint over attested TLS.
 * Exactly once per cluster: the node refuses a second init.
 */
export const initCommand = defineCommand({
  name: "init",
  summary: "Initialize the cluster's first control-plane node over attested TLS",
  description: [
    "Connects to the node's init endpoint with server-attested TLS and checks its evidence against the",
    "configured measurements with PCR 15 = 0 before anything secret is sent. Then sends the init secret,",
    "the master secret (created in the workspace if missing; never overwritten) and a fresh measurement salt,",
    "checks the returned cluster ID against its own derivation, and writes the admin kubeconfig (0600) and",
    "the state file.",
  ].join("\n"),
  options: [WORKSPACE_OPTION, CONFIG_OPTION, ...INIT_OPTIONS],
  examples: [
    "asterism init --endpoint 10.0.0.5:9000 --init-secret-file init-secret",
    "asterism init -C ./prod --output json",
  ],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const config = loadConfig(configPathFrom(ctx, ws));
    const endpoint = stringOption(ctx.values["endpoint"], "endpoint");
    const initSecretFile = stringOption(ctx.values["init-secret-file"], "init-secret-file");
    const r = await runInitPhase({
      ws,
      config,
      progress: createProgress(ctx.io, { quiet: ctx.json }),
      ...(endpoint ? { endpoint } : {}),
      ...(initSecretFile ? { initSecretFile } : {}),
    });
    if (ctx.json) ctx.io.stdout(`${JSON.stringify(r)}\n`);
    else {
      ctx.io.stdout(`Initialized cluster ${r.clusterId}\n`);
      ctx.io.stdout(`Admin kubeconfig: ${r.kubeconfig}\n`);
      if (!r.kubernetes.performed)
        ctx.io.stdout(`Kubernetes was not installed: ${r.kubernetes.note ?? "(no reason given)"}\n`);
    }
    return ExitCode.OK;
  },
});
