import { createValidator } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { recoverNode } from "@asterism/lifecycle";
import { ClusterError } from "../cluster/errors.ts";
import { nodePolicy } from "../cluster/policy.ts";
import { toUrl } from "../cluster/targets.ts";
import { defineCommand, ExitCode } from "../command.ts";
import { loadConfig } from "../config/load.ts";
import { createProgress } from "../ui/progress.ts";
import { readMasterSecretFile } from "../workspace/master-secret.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../workspace/options.ts";
import { readState } from "../workspace/state.ts";

/**
 * `asterism recover`: when every control-plane node is down, prove possession of the master secret to a
 * rebooted control plane's recovery endpoint so it can unlock its state disk. The node attests first
 * (configured measurements, PCR 15 = 0); the secret never goes to an unverified node.
 */
export const recoverCommand = defineCommand({
  name: "recover",
  summary: "Recover control-plane nodes after a full outage (sends the master secret over attested TLS)",
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    {
      name: "endpoint",
      type: "string",
      value: "HOST:PORT",
      multiple: true,
      description: "Recovery endpoint(s) (default: the control planes' in the state file)",
    },
  ],
  examples: ["asterism recover", "asterism recover --endpoint 10.0.0.5:9999 --output json"],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const config = loadConfig(configPathFrom(ctx, ws));
    const state = readState(ws.state);
    const given = (ctx.values["endpoint"] as string[] | undefined) ?? [];
    const endpoints = given.length
      ? given.map((e) => toUrl(e, "https"))
      : (state?.mini?.nodes ?? [])
          .filter((n) => n.role === "control-plane" && n.endpoints["recovery"])
          .map((n) => n.endpoints["recovery"] as string);
    if (!endpoints.length) {
      throw new ClusterError("NO_ENDPOINT", "Nothing to recover", {
        expected: "--endpoint HOST:PORT or control-plane recovery endpoints in the state file",
      });
    }
    const master = readMasterSecretFile(ws.masterSecret);
    const validator = createValidator(config.attestation.variant, { policy: nodePolicy(config, undefined) });
    const progress = createProgress(ctx.io, { quiet: ctx.json });
    const results: { endpoint: string; clusterId: string; matchesState: boolean | null }[] = [];
    for (const endpoint of endpoints) {
      const r = await progress.step(`Recover ${endpoint}`, () =>
        recoverNode({ endpoint, validators: [validator], masterSecret: master }),
      );
      const id = toHex(r.clusterId);
      const known = state?.clusterValues?.clusterID;
      results.push({ endpoint, clusterId: id, matchesState: known === undefined ? null : known === id });
    }
    if (ctx.json) ctx.io.stdout(`${JSON.stringify({ recovered: results })}\n`);
    else
      for (const r of results)
        ctx.io.stdout(
          `recovered ${r.endpoint}: cluster ${r.clusterId}${r.matchesState === false ? " (NOT the cluster in the state file!)" : ""}\n`,
        );
    return results.some((r) => r.matchesState === false) ? ExitCode.INVALID : ExitCode.OK;
  },
});
