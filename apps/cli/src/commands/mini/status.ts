import { defineCommand, ExitCode } from "../../command.ts";
import { miniStatus } from "../../mini/status.ts";
import { createStyle } from "../../ui/style.ts";
import { WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";

/** `asterism mini status`: what runs, per node and service. Exit 3 when a process that should run is gone. */
export const statusCommand = defineCommand({
  name: "status",
  summary: "Show the local cluster's nodes, processes and endpoints",
  options: [WORKSPACE_OPTION],
  examples: ["asterism mini status", "asterism mini status --output json"],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const st = await miniStatus(ws);
    if (ctx.json) {
      ctx.io.stdout(`${JSON.stringify(st)}\n`);
      return !st.exists || st.healthy ? ExitCode.OK : ExitCode.FAILED;
    }
    if (!st.exists) {
      ctx.io.stdout(`No local cluster in ${ws.dir} (start one with \`asterism mini up\`).\n`);
      return ExitCode.OK;
    }
    const s = createStyle(ctx.io);
    const mark = (on: boolean) => (on ? s.green("running") : s.red("stopped"));
    ctx.io.stdout(
      `Local cluster "${st.name}"${st.clusterId ? `, cluster ID ${st.clusterId}` : ""}, started ${st.startedAt}\n${st.image ? `VM nodes booted from ${st.image}\n` : ""}\n`,
    );
    for (const svc of st.services)
      ctx.io.stdout(
        `  ${svc.name.padEnd(22)} ${mark(svc.running)}  pid ${String(svc.pid).padEnd(8)} ${svc.endpoint ?? ""}\n`,
      );
    for (const n of st.nodes) {
      ctx.io.stdout(`\n  ${s.bold(n.name)}  ${n.role}  ${n.ips.join(",")}  phase ${n.phase ?? "unknown"}\n`);
      for (const p of n.processes)
        ctx.io.stdout(`    ${p.name.padEnd(20)} ${mark(p.running)}  pid ${p.pid}\n`);
      for (const [k, v] of Object.entries(n.endpoints)) ctx.io.stdout(`    ${k.padEnd(20)} ${v}\n`);
      if (n.serialLog) ctx.io.stdout(`    ${"serial console".padEnd(20)} ${n.serialLog}\n`);
    }
    ctx.io.stdout(
      `\n${st.healthy ? "All processes are as expected." : s.red("Some processes are not running (see the logs in each node's directory).")}\n`,
    );
    return st.healthy ? ExitCode.OK : ExitCode.FAILED;
  },
});
