import {
  CHANGE_KINDS,
  type ChangeKind,
  createChange,
  describeChange,
  OwnerParseError,
  type PayloadOf,
} from "@asterism/owner";
import { defineCommand, ExitCode } from "../../command.ts";
import { stateSource } from "../../console/source.ts";
import { readInputText, stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { WORKSPACE_OPTION } from "../../workspace/options.ts";
import { printDescription } from "./pending.ts";
import { ANCHOR_OPTION, anchorOf, intOption, openStateFile, STATE_OPTION } from "./shared.ts";

/** `asterism owner propose`: put a change up for approval. Anyone may propose; only owners approve. */
export const proposeCommand = defineCommand({
  name: "propose",
  summary: "Propose a change (policy, key rotation, revocation, recovery) for the owners to approve",
  options: [
    WORKSPACE_OPTION,
    STATE_OPTION,
    ANCHOR_OPTION,
    {
      name: "kind",
      type: "string",
      value: "KIND",
      required: true,
      description: "attestation-policy, kms-key-rotation, node-revocation or recovery",
    },
    {
      name: "payload",
      type: "string",
      value: "FILE",
      required: true,
      description: "The change's payload (JSON)",
    },
    { name: "description", type: "string", value: "TEXT", description: "A note shown to approvers" },
    {
      name: "ttl",
      type: "string",
      value: "SECONDS",
      description: "How long approvals may be collected (default 86400)",
    },
  ],
  examples: [
    `asterism owner propose --state .asterism/state.db --kind attestation-policy --payload policy-change.json   # {"policy": {"variants": […], "measurements": {…}}}`,
    `asterism owner propose --state .asterism/state.db --kind node-revocation --payload revoke.json   # {"nodes": ["worker-3"], "reason": "…"}`,
  ],
  async run(ctx) {
    const kind = String(ctx.values["kind"]) as ChangeKind;
    if (!CHANGE_KINDS.includes(kind) || kind === "genesis" || kind === "owner-change")
      throw new UsageError("BAD_VALUE", "Invalid --kind", {
        expected:
          "attestation-policy, kms-key-rotation, node-revocation or recovery (owners: asterism owner enroll)",
        actual: JSON.stringify(kind),
      });
    let payload: unknown;
    try {
      payload = JSON.parse(readInputText(String(ctx.values["payload"]), "payload"));
    } catch (cause) {
      if (cause instanceof UsageError) throw cause;
      throw new UsageError("BAD_VALUE", "Invalid --payload", { expected: "a JSON file", cause });
    }
    const ttl = intOption(ctx.values["ttl"], "ttl", 86_400, 60, 30 * 86_400);
    const description = stringOption(ctx.values["description"], "description");
    const state = openStateFile(ctx.io, ctx.values);
    try {
      const anchor = anchorOf(ctx.io, ctx.values);
      const source = stateSource(state, anchor ? { anchor } : {});
      const a = await source.approvals();
      if (a.error) throw a.error;
      if (!a.log)
        throw new UsageError("BAD_VALUE", "No owners enrolled", { expected: "asterism owner enroll first" });
      let change: ReturnType<typeof createChange>;
      try {
        change = createChange({
          clusterId: a.log.state.clusterId,
          head: a.log.state.head,
          kind,
          payload: payload as PayloadOf<typeof kind>,
          now: new Date(),
          ttlSeconds: ttl,
          ...(description ? { description } : {}),
        });
      } catch (cause) {
        if (!(cause instanceof OwnerParseError)) throw cause;
        throw new UsageError("BAD_VALUE", `Invalid ${kind} payload`, {
          expected: cause.expected,
          actual: cause.actual,
          cause,
        });
      }
      const p = await source.store.propose(change);
      const d = describeChange(a.log.state, change);
      if (ctx.json)
        ctx.io.stdout(`${JSON.stringify({ digest: p.digest, sequence: change.sequence, ...d })}\n`);
      else {
        ctx.io.stdout(`Proposed ${d.title.toLowerCase()} as entry ${change.sequence}: ${p.digest}\n`);
        printDescription(ctx.io.stdout, d);
        ctx.io.stdout(
          `Owners approve it with 'asterism owner approve' or the console (${a.log.state.threshold} needed).\n`,
        );
      }
      return ExitCode.OK;
    } finally {
      state.close();
    }
  },
});
