import { defineCommand, ExitCode } from "../../command.ts";
import { rebootNode } from "../../mini/reboot.ts";
import { createProgress } from "../../ui/progress.ts";
import { UsageError } from "../../usage-error.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";

/** `asterism mini reboot <node>`: reset a node: TPM power cycle, measured boot again, bootstrapper again. */
export const rebootCommand = defineCommand({
  name: "reboot",
  summary: "Reboot one node: power-cycle its TPM, measure its boot components again, restart it",
  args: "<node>",
  description:
    "Changes to the node's own boot components (asterism-mini/nodes/<node>/boot/) take effect here, as on a real VM: the PCRs then show them and `asterism verify` names the PCR that changed. A VM node (`mini up --vm`) is reset through QMP (its vTPM resets with it) and the command waits until it has rejoined and verifies again; control-plane-0, the cluster's JoinService, serves recovery instead.",
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    { name: "no-wait", type: "boolean", description: "VM nodes: return right after the reset" },
  ],
  examples: ["asterism mini reboot mini-worker-0", "asterism mini reboot mini-control-plane-0 -C /tmp/demo"],
  async run(ctx) {
    const name = ctx.positionals[0];
    if (!name || ctx.positionals.length > 1)
      throw new UsageError("MISSING_OPTION", "Which node?", {
        expected: "one node name (see `asterism mini status`)",
      });
    const ws = workspaceFrom(ctx);
    const r = await rebootNode(ws, configPathFrom(ctx, ws), name, ctx.io.env, {
      progress: createProgress(ctx.io, { quiet: ctx.json }),
      noWait: ctx.values["no-wait"] === true,
    });
    const how =
      "rejoined" in r
        ? r.rejoined
          ? "; it rejoined and verifies again"
          : r.recoveryUrl
            ? `; it has no JoinService to rejoin through and serves recovery at ${r.recoveryUrl} (\`asterism recover\`)`
            : "; verify it with `asterism verify` once it has rejoined"
        : "; verify it with `asterism verify`";
    ctx.io.stdout(ctx.json ? `${JSON.stringify({ node: name, ...r })}\n` : `Rebooted ${name}${how}.\n`);
    return ExitCode.OK;
  },
});
