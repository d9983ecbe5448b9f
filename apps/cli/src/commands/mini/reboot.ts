import { defineCommand, ExitCode } from "../../command.ts";
import { rebootNode } from "../../mini/reboot.ts";
import { UsageError } from "../../usage-error.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";

/** `asterism mini reboot <node>`: reset a node: TPM power cycle, measured boot again, bootstrapper again. */
export const rebootCommand = defineCommand({
  name: "reboot",
  summary: "Reboot one node: power-cycle its TPM, measure its boot components again, restart it",
  args: "<node>",
  description:
    "Changes to the node's own boot components (asterism-mini/nodes/<node>/boot/) take effect here, as on a real VM: the PCRs then show them and `asterism verify` names the PCR that changed.",
  options: [WORKSPACE_OPTION, CONFIG_OPTION],
  examples: ["asterism mini reboot mini-worker-0", "asterism mini reboot mini-control-plane-0 -C /tmp/demo"],
  async run(ctx) {
    const name = ctx.positionals[0];
    if (!name || ctx.positionals.length > 1)
      throw new UsageError("MISSING_OPTION", "Which node?", {
        expected: "one node name (see `asterism mini status`)",
      });
    const ws = workspaceFrom(ctx);
    const r = await rebootNode(ws, configPathFrom(ctx, ws), name, ctx.io.env);
    ctx.io.stdout(
      ctx.json
        ? `${JSON.stringify({ node: name, ...r })}\n`
        : `Rebooted ${name}; verify it with \`asterism verify\`.\n`,
    );
    return ExitCode.OK;
  },
});
