import { OwnerStore, serializeAuditEntry } from "@asterism/owner";
import { defineCommand, ExitCode } from "../../command.ts";
import { WORKSPACE_OPTION } from "../../workspace/options.ts";
import { openStateFile, STATE_OPTION } from "../owner/shared.ts";

/** `asterism audit export`: write the audit log as JSON, for `asterism audit verify` anywhere. */
export const exportCommand = defineCommand({
  name: "export",
  summary: "Print the audit log as JSON (the format 'asterism audit verify' reads)",
  options: [WORKSPACE_OPTION, STATE_OPTION],
  examples: ["asterism audit export --state .asterism/state.db > audit-log.json"],
  async run(ctx) {
    const state = openStateFile(ctx.io, ctx.values);
    try {
      const entries = await new OwnerStore(state).readEntries();
      const values = entries.map(
        (e) => JSON.parse(new TextDecoder().decode(serializeAuditEntry(e))) as unknown,
      );
      ctx.io.stdout(`${JSON.stringify({ format: "asterism.audit-log/v1", entries: values }, null, 2)}\n`);
      return ExitCode.OK;
    } finally {
      state.close();
    }
  },
});
