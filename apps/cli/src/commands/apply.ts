import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex } from "@asterism/bytes";
import { openClusterState, writeJoinConfig } from "@asterism/lifecycle";
import { parseAuditEntryValue } from "@asterism/owner";
import { runInitPhase } from "../cluster/init-phase.ts";
import { OWNER_LOG_FILE, publishOwners } from "../cluster/owners.ts";
import { nodePolicy } from "../cluster/policy.ts";
import { defineCommand, ExitCode } from "../command.ts";
import { loadConfig } from "../config/load.ts";
import { stringOption } from "../input.ts";
import { createProgress } from "../ui/progress.ts";
import { UsageError } from "../usage-error.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../workspace/options.ts";
import { readState } from "../workspace/state.ts";
import { parseLogFile } from "./audit/verify.ts";
import { INIT_OPTIONS } from "./init.ts";
import { type PolicyProposal, proposePolicyToOwners } from "./owner/propose-policy.ts";
import { ANCHOR_OPTION, anchorOf } from "./owner/shared.ts";

function describeProposal(p: PolicyProposal): string {
  switch (p.kind) {
    case "no-owners":
      return "";
    case "already-approved":
      return ` (approved by the owners in audit entry ${p.sequence})`;
    case "proposed":
      return `; proposed to the owners as change ${p.digest} (approve: asterism owner approve)`;
    case "not-proposable":
      return `; not proposed to the owners (${p.reason})`;
  }
}

const PHASES = ["init", "attestation"] as const;
type Phase = (typeof PHASES)[number];

/**
 * `asterism apply`: bring the cluster to what the configuration says. Phases: `init` (once, when the
 * workspace holds no cluster yet) and `attestation` (the join policy in the cluster state: the
 * configured measurements with PCR 15 = 0, so a changed config takes effect for every later join).
 */
export const applyCommand = defineCommand({
  name: "apply",
  summary: "Apply the configuration: init once, then the attestation policy for joining nodes",
  description: [
    "Phase init runs when the state file has no cluster yet (see `asterism init`). Phase attestation writes",
    "the join policy (configured measurements, PCR 15 = 0) and the measurement salt into the cluster state",
    "(--cluster-state, or the state file's: sqlite:<path> for the local cluster, kube:<kubeconfig> otherwise);",
    "the JoinService picks it up within its reload interval. When the cluster has owners (docs/owner.md), the",
    "policy is also proposed to them and takes effect once they approve it.",
  ].join("\n"),
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    ...INIT_OPTIONS,
    {
      name: "cluster-state",
      type: "string",
      value: "SPEC",
      description: "sqlite:<path> or kube:<kubeconfig>[#namespace] (default: the state file's)",
    },
    ANCHOR_OPTION,
    {
      name: "skip-phases",
      type: "string",
      value: "LIST",
      description: `Comma-separated phases to skip: ${PHASES.join(",")}`,
    },
  ],
  examples: [
    "asterism apply",
    "asterism apply --skip-phases init --cluster-state kube:asterism-admin.conf",
    "asterism apply --endpoint 10.0.0.5:9000 --init-secret-file init-secret",
  ],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const config = loadConfig(configPathFrom(ctx, ws));
    const skip = new Set(
      (stringOption(ctx.values["skip-phases"], "skip-phases") ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    );
    for (const s of skip)
      if (!(PHASES as readonly string[]).includes(s))
        throw new UsageError("BAD_VALUE", "Invalid --skip-phases", {
          expected: PHASES.join(", "),
          actual: s,
        });
    const progress = createProgress(ctx.io, { quiet: ctx.json });
    const done: Record<Phase, string> = { init: "skipped", attestation: "skipped" };
    if (!skip.has("init")) {
      if (readState(ws.state)?.clusterValues) done.init = "already initialized";
      else {
        const endpoint = stringOption(ctx.values["endpoint"], "endpoint");
        const initSecretFile = stringOption(ctx.values["init-secret-file"], "init-secret-file");
        const r = await runInitPhase({
          ws,
          config,
          progress,
          ...(endpoint ? { endpoint } : {}),
          ...(initSecretFile ? { initSecretFile } : {}),
        });
        done.init = `initialized cluster ${r.clusterId}`;
      }
    }
    if (!skip.has("attestation")) {
      const state = readState(ws.state);
      const spec =
        stringOption(ctx.values["cluster-state"], "cluster-state") ?? state?.infrastructure.clusterState;
      const salt = state?.clusterValues?.measurementSalt;
      if (spec === undefined || salt === undefined) {
        done.attestation = "skipped: no cluster state known (--cluster-state) or no cluster yet";
      } else {
        let proposal: PolicyProposal = { kind: "no-owners" };
        await progress.step("Attestation policy for joining nodes", async () => {
          const cs = openClusterState(spec);
          try {
            // Owners from init --owner whose log could not be written then: in first, before the policy.
            const ownerAnchor = state?.clusterValues?.ownerAnchor;
            const saved = join(ws.dir, OWNER_LOG_FILE);
            if (ownerAnchor && existsSync(saved)) {
              const entries = parseLogFile(readFileSync(saved, "utf8"), saved).map((e) =>
                parseAuditEntryValue(e),
              );
              await publishOwners(cs, { anchor: ownerAnchor, entries });
            }
            const policy = nodePolicy(config, undefined);
            await writeJoinConfig(cs, {
              policy,
              measurementSalt: fromHex(salt),
              kubernetesVersion: config.kubernetesVersion,
              components: [],
            });
            // With owners, the JoinService enforces only approved policy: put this one up for approval.
            const anchor = anchorOf(ctx.io, ctx.values);
            proposal = await proposePolicyToOwners(cs, policy, {
              ...(anchor ? { anchor } : {}),
              now: new Date(),
              description: "asterism apply: the configured measurements",
            });
          } finally {
            cs.close();
          }
        });
        done.attestation = `join policy written to ${spec.split(":")[0]} state${describeProposal(proposal)}`;
      }
    }
    if (ctx.json) ctx.io.stdout(`${JSON.stringify({ phases: done })}\n`);
    else for (const p of PHASES) ctx.io.stdout(`${p}: ${done[p]}\n`);
    return ExitCode.OK;
  },
});
