import { runInitPhase } from "../cluster/init-phase.ts";
import { defineCommand, ExitCode } from "../command.ts";
import { loadConfig } from "../config/load.ts";
import { stringOption } from "../input.ts";
import { createProgress } from "../ui/progress.ts";
import { UsageError } from "../usage-error.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../workspace/options.ts";
import { CEREMONY_OPTIONS, ceremonySettings } from "./owner/ceremony.ts";
import { intOption } from "./owner/shared.ts";

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
    "With --owner the cluster gets owners first: a one-time local page enrolls their passkeys and has them",
    "approve the initial attestation policy (docs/owner.md); the node records their anchor, and after init",
    "their audit log and the anchor object go into the cluster state, before any join configuration.",
  ].join("\n"),
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    ...INIT_OPTIONS,
    {
      name: "owner",
      type: "boolean",
      description:
        "Enroll the cluster's owners (passkeys, in a browser) and have them approve the initial policy",
    },
    {
      name: "threshold",
      type: "string",
      value: "M",
      description: "With --owner: owners needed per change (default 1)",
    },
    {
      name: "cluster-state",
      type: "string",
      value: "SPEC",
      description:
        "With --owner: where the owners' log goes (default: the state file's, else kube:<admin kubeconfig>#asterism-system)",
    },
    ...CEREMONY_OPTIONS,
  ],
  examples: [
    "asterism init --endpoint 10.0.0.5:9000 --init-secret-file init-secret",
    "asterism init -C ./prod --output json",
    "asterism init --owner --threshold 2 --open",
  ],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const config = loadConfig(configPathFrom(ctx, ws));
    const endpoint = stringOption(ctx.values["endpoint"], "endpoint");
    const initSecretFile = stringOption(ctx.values["init-secret-file"], "init-secret-file");
    const withOwners = ctx.values["owner"] === true;
    if (!withOwners && (ctx.values["threshold"] !== undefined || ctx.values["cluster-state"] !== undefined))
      throw new UsageError("BAD_OPTION", "--threshold and --cluster-state need --owner");
    const clusterState = stringOption(ctx.values["cluster-state"], "cluster-state");
    const r = await runInitPhase({
      ws,
      config,
      progress: createProgress(ctx.io, { quiet: ctx.json }),
      ...(endpoint ? { endpoint } : {}),
      ...(initSecretFile ? { initSecretFile } : {}),
      ...(withOwners
        ? {
            owner: {
              threshold: intOption(ctx.values["threshold"], "threshold", 1, 1, 16),
              settings: ceremonySettings(ctx.values),
              io: ctx.io,
              ...(clusterState ? { clusterState } : {}),
            },
          }
        : {}),
    });
    if (ctx.json) ctx.io.stdout(`${JSON.stringify(r)}\n`);
    else {
      ctx.io.stdout(`Initialized cluster ${r.clusterId}\n`);
      ctx.io.stdout(`Admin kubeconfig: ${r.kubeconfig}\n`);
      if (r.owner) {
        ctx.io.stdout(
          `Owners: ${r.owner.owners.join(", ")} (${r.owner.threshold} must approve each change)\n`,
        );
        ctx.io.stdout(`Owner anchor (pin it; recorded in the state file): ${r.owner.anchor}\n`);
        ctx.io.stdout(
          `Initial attestation policy approved in audit entry ${r.owner.policyApprovedIn}; log in ${r.owner.clusterState.split("#")[0]} and ${r.owner.logFile}\n`,
        );
      }
      if (!r.kubernetes.performed)
        ctx.io.stdout(`Kubernetes was not installed: ${r.kubernetes.note ?? "(no reason given)"}\n`);
    }
    return ExitCode.OK;
  },
});
