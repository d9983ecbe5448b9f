import { isAsterismError } from "@asterism/errors";
import { type ChangeDescription, describeChange, evaluateApprovals } from "@asterism/owner";
import { defineCommand, ExitCode } from "../../command.ts";
import { stateSource } from "../../console/source.ts";
import { WORKSPACE_OPTION } from "../../workspace/options.ts";
import { ANCHOR_OPTION, anchorOf, openStateFile, STATE_OPTION } from "./shared.ts";

/** Print a change description as aligned text lines. */
export function printDescription(out: (t: string) => void, d: ChangeDescription): void {
  for (const i of d.items) {
    const mark = i.effect === "widens" ? "! widens " : i.effect === "narrows" ? "  narrows" : "         ";
    out(`  ${mark}  ${i.what}: ${i.before ?? "–"} → ${i.after ?? "–"}\n`);
  }
}

/** `asterism owner pending`: list changes waiting for approval, with what each changes. */
export const pendingCommand = defineCommand({
  name: "pending",
  summary: "List pending changes with a readable diff and their approvals",
  options: [WORKSPACE_OPTION, STATE_OPTION, ANCHOR_OPTION],
  examples: [
    "asterism owner pending --state .asterism/state.db",
    "asterism owner pending --state .asterism/state.db -o json",
  ],
  async run(ctx) {
    const state = openStateFile(ctx.io, ctx.values);
    try {
      const anchor = anchorOf(ctx.io, ctx.values);
      const source = stateSource(state, anchor ? { anchor } : {});
      const a = await source.approvals();
      if (a.error) throw a.error;
      const { pending, unreadable, omitted } = await source.store.listPending();
      const rows = [];
      for (const p of pending) {
        let status: string;
        let approvedBy: readonly string[] = [];
        try {
          const progress = await evaluateApprovals(a.log?.state, p.change, p.approvals, { now: new Date() });
          approvedBy = progress.approvedBy;
          status = progress.complete
            ? "complete"
            : `${progress.approvedBy.length}/${progress.required} owners`;
        } catch (err) {
          status = isAsterismError(err) ? err.code : "invalid";
        }
        rows.push({
          digest: p.digest,
          kind: p.change.kind,
          sequence: p.change.sequence,
          status,
          approvedBy,
          ...describeChange(a.log?.state, p.change),
        });
      }
      if (ctx.json) ctx.io.stdout(`${JSON.stringify({ pending: rows, unreadable, omitted })}\n`);
      else {
        if (rows.length === 0) ctx.io.stdout("No pending changes.\n");
        for (const r of rows) {
          ctx.io.stdout(`${r.digest.slice(0, 16)}…  entry ${r.sequence}  ${r.title}  [${r.status}]\n`);
          printDescription(ctx.io.stdout, r);
        }
        for (const u of unreadable) ctx.io.stdout(`unreadable: ${u.name} (${u.code})\n`);
        if (omitted) ctx.io.stdout(`${omitted} more not shown\n`);
      }
      return ExitCode.OK;
    } finally {
      state.close();
    }
  },
});
