import { defineCommand, ExitCode } from "../../command.ts";
import { stopMini } from "../../mini/down.ts";
import { WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";

/** `asterism mini down`: stop every local-cluster process; nothing is left running. */
export const downCommand = defineCommand({
  name: "down",
  summary: "Stop the local cluster: every recorded process, then remove its node files",
  description:
    "Stops the services, each node's VerificationService and bootstrapper, and its swtpm (SIGTERM, then SIGKILL), identified by PID and start time. Removes asterism-mini/, the state file and the admin kubeconfig; the configuration, boot components and master secret stay.",
  options: [
    WORKSPACE_OPTION,
    {
      name: "keep-files",
      type: "boolean",
      description: "Keep asterism-mini/ (logs), the state file and kubeconfig",
    },
  ],
  examples: ["asterism mini down", "asterism mini down --keep-files -C /tmp/demo"],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const r = await stopMini(ws, { removeFiles: ctx.values["keep-files"] !== true });
    if (ctx.json) {
      ctx.io.stdout(`${JSON.stringify({ stopped: r.stopped, removed: r.removed })}\n`);
      return ExitCode.OK;
    }
    if (r.stopped.length === 0) ctx.io.stdout(`No local cluster processes recorded in ${ws.dir}.\n`);
    const running = r.stopped.filter((s) => s.how !== "not-running");
    ctx.io.stdout(`Stopped ${running.length} process(es); nothing of the local cluster is running.\n`);
    for (const f of r.removed) ctx.io.stdout(`Removed ${f}\n`);
    return ExitCode.OK;
  },
});
