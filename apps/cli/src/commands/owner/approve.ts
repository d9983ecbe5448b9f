import { defineCommand, ExitCode } from "../../command.ts";
import { stateSource } from "../../console/source.ts";
import { WORKSPACE_OPTION } from "../../workspace/options.ts";
import { CEREMONY_OPTIONS, runCeremony } from "./ceremony.ts";
import { ANCHOR_OPTION, anchorOf, openStateFile, STATE_OPTION } from "./shared.ts";

/** `asterism owner approve`: open the pending changes page to approve with a passkey. */
export const approveCommand = defineCommand({
  name: "approve",
  summary: "Approve pending changes with your passkey (opens a local page)",
  description:
    "Opens a one-time page on 127.0.0.1 listing pending changes with a readable diff. Your passkey signs the SHA-256 of the exact canonical change. Exits after your approval is recorded.",
  options: [WORKSPACE_OPTION, STATE_OPTION, ANCHOR_OPTION, ...CEREMONY_OPTIONS],
  examples: ["asterism owner approve --state .asterism/state.db --anchor 3f2a… --open"],
  async run(ctx) {
    const state = openStateFile(ctx.io, ctx.values);
    try {
      const anchor = anchorOf(ctx.io, ctx.values);
      if (!anchor) ctx.io.stderr("warning: no --anchor: the audit log is checked for consistency only\n");
      const event = await runCeremony(ctx, {
        mode: "approve",
        source: stateSource(state, anchor ? { anchor } : {}),
        what: "approve pending changes",
        until: (e) => e.kind === "committed" || e.kind === "approved",
      });
      if (!event) {
        ctx.io.stderr("No approval recorded.\n");
        return ExitCode.FAILED;
      }
      ctx.io.stdout(
        ctx.json
          ? `${JSON.stringify(event)}\n`
          : event.kind === "committed"
            ? `Change approved and in force (audit entry ${event.sequence}, ${event.hash}).\n`
            : event.kind === "approved"
              ? `Approval recorded: ${event.approvedBy.length} of ${event.required} owner(s).\n`
              : "Done.\n",
      );
      return ExitCode.OK;
    } finally {
      state.close();
    }
  },
});
