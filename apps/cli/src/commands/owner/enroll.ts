import { defineCommand, ExitCode } from "../../command.ts";
import { stateSource } from "../../console/source.ts";
import { stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { WORKSPACE_OPTION } from "../../workspace/options.ts";
import { CEREMONY_OPTIONS, runCeremony } from "./ceremony.ts";
import { ANCHOR_OPTION, anchorOf, intOption, openStateFile, STATE_OPTION } from "./shared.ts";

/** The relying party of passkeys enrolled through the CLI's local pages. */
export const LOCAL_RP = { id: "localhost", origins: ["http://localhost"] };

/**
 * `asterism owner enroll`: register passkeys in the browser. Before any owner exists this creates the
 * audit log's genesis (the first owners, their threshold) and prints its hash, the anchor to pin; later
 * it proposes an owner change that the current owners approve.
 */
export const enrollCommand = defineCommand({
  name: "enroll",
  summary: "Enroll owner passkeys (genesis at init; later an owner change the owners approve)",
  description:
    "Opens a one-time page on 127.0.0.1 where the browser registers passkeys (WebAuthn) and signs the change that enrolls them. Nothing secret is stored: the cluster state receives public keys and signatures.",
  options: [
    WORKSPACE_OPTION,
    STATE_OPTION,
    ANCHOR_OPTION,
    {
      name: "cluster-id",
      type: "string",
      value: "HEX",
      description: "Cluster ID (64 hex digits; required for the first enrollment)",
    },
    {
      name: "threshold",
      type: "string",
      value: "M",
      description: "Owners needed per change, set at genesis (default 1)",
    },
    ...CEREMONY_OPTIONS,
  ],
  examples: [
    "asterism owner enroll --state .asterism/state.db --cluster-id $(cat .asterism/cluster-id) --open",
    "asterism owner enroll --state .asterism/state.db --anchor 3f2a…   # add a second owner, approved by the first",
  ],
  async run(ctx) {
    const state = openStateFile(ctx.io, ctx.values, { create: true });
    try {
      const anchor = anchorOf(ctx.io, ctx.values);
      const source = stateSource(state, anchor ? { anchor } : {});
      const a = await source.approvals();
      if (a.error) throw a.error;
      const clusterId = stringOption(ctx.values["cluster-id"], "cluster-id")?.toLowerCase();
      if (!a.log && (clusterId === undefined || !/^[0-9a-f]{64}$/.test(clusterId)))
        throw new UsageError("MISSING_OPTION", "The first enrollment needs the cluster ID", {
          expected: "--cluster-id HEX (64 hex digits)",
        });
      const threshold = intOption(ctx.values["threshold"], "threshold", 1, 1, 16);
      const event = await runCeremony(ctx, {
        mode: "enroll",
        source,
        ...(a.log ? {} : { enroll: { clusterId: clusterId as string, threshold, rp: LOCAL_RP } }),
        what: a.log ? "add an owner" : "enroll the first owners",
        until: (e) =>
          (e.kind === "committed" && (e.changeKind === "genesis" || e.changeKind === "owner-change")) ||
          e.kind === "proposed",
      });
      if (!event) {
        ctx.io.stderr("No enrollment completed.\n");
        return ExitCode.FAILED;
      }
      if (event.kind === "committed" && event.changeKind === "genesis") {
        const out = { anchor: event.hash, clusterId, sequence: event.sequence };
        ctx.io.stdout(
          ctx.json
            ? `${JSON.stringify(out)}\n`
            : `Owners enrolled. Genesis hash (pin it; pass it as --anchor): ${event.hash}\n`,
        );
        return ExitCode.OK;
      }
      const out = event.kind === "proposed" ? { proposed: event.digest } : { committed: event };
      ctx.io.stdout(
        ctx.json
          ? `${JSON.stringify(out)}\n`
          : event.kind === "proposed"
            ? `Owner change proposed (${event.digest}); the current owners approve it with 'asterism owner approve' or the console.\n`
            : "Owner change in force.\n",
      );
      return ExitCode.OK;
    } finally {
      state.close();
    }
  },
});
