import { createValidator } from "@asterism/attestation";
import { toHex } from "@asterism/bytes";
import { openClusterState, recoverNode, requestRecoveryChallenge } from "@asterism/lifecycle";
import { ClusterError } from "../cluster/errors.ts";
import { nodePolicy } from "../cluster/policy.ts";
import { approveRecovery, type OwnerLogSource, workspaceOwnerLog } from "../cluster/recovery-approval.ts";
import { toUrl } from "../cluster/targets.ts";
import { defineCommand, ExitCode } from "../command.ts";
import { loadConfig } from "../config/load.ts";
import { stringOption } from "../input.ts";
import { createProgress } from "../ui/progress.ts";
import { UsageError } from "../usage-error.ts";
import { readMasterSecretFile } from "../workspace/master-secret.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../workspace/options.ts";
import { readState } from "../workspace/state.ts";
import { CEREMONY_OPTIONS, ceremonySettings } from "./owner/ceremony.ts";
import { ANCHOR_OPTION, anchorOf } from "./owner/shared.ts";

/**
 * `asterism recover`: when every control-plane node is down, prove possession of the master secret to a
 * rebooted control plane's recovery endpoint so it can unlock its state disk. The node attests first
 * (configured measurements, PCR 15 = 0); the secret never goes to an unverified node. A node that
 * recorded cluster owners at init or join also needs their approval (docs/owner.md "Recovery"): this
 * command proposes it and opens the local approval page first.
 */
export const recoverCommand = defineCommand({
  name: "recover",
  summary: "Recover control-plane nodes after a full outage (sends the master secret over attested TLS)",
  description: [
    "Nodes that recorded cluster owners accept the master secret only with the owners' approval of a recovery",
    "change naming the node, its disk and a fresh nonce from the node: the change is proposed to the owners'",
    "log (--cluster-state, else the workspace's cluster state when it is a local SQLite file, else the log",
    "saved in the workspace or --audit-log) and approved on a one-time local page before anything is sent.",
  ].join("\n"),
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
    {
      name: "cluster-state",
      type: "string",
      value: "SPEC",
      description:
        "Where the owners' log is (sqlite:<path> or kube:<kubeconfig>[#ns]); default: the workspace's",
    },
    {
      name: "audit-log",
      type: "string",
      value: "FILE",
      description: "A saved copy of the owners' log (asterism audit export), when the cluster state is down",
    },
    { name: "reason", type: "string", value: "TEXT", description: "Why, shown to the approving owners" },
    ANCHOR_OPTION,
    ...CEREMONY_OPTIONS,
  ],
  examples: [
    "asterism recover",
    "asterism recover --endpoint 10.0.0.5:9999 --output json",
    "asterism recover --audit-log asterism-audit-log.json --reason 'power loss in zone a' --open",
  ],
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
    const settings = ceremonySettings(ctx.values);
    const anchor = anchorOf(ctx.io, ctx.values);
    const reason =
      stringOption(ctx.values["reason"], "reason") ?? "every control plane is down (asterism recover)";
    const results: {
      endpoint: string;
      clusterId: string;
      matchesState: boolean | null;
      approvedIn: number | null;
    }[] = [];
    for (const endpoint of endpoints) {
      const challenge = await progress.step(`Attest ${endpoint}`, () =>
        requestRecoveryChallenge({ endpoint, validators: [validator] }),
      );
      let ownerApproval: { entries: unknown[]; sequence: number } | undefined;
      if (!challenge.owner && anchor !== undefined)
        // Legitimate for nodes that joined before the owners were enrolled; otherwise someone may have
        // rewritten the disk's (unauthenticated) LUKS2 header to drop the record (docs/owner.md "Recovery").
        ctx.io.stderr(
          `warning: ${challenge.node} recorded no cluster owners although this workspace pins ${anchor.slice(0, 16)}…: it recovers with the master secret alone. Unless it joined before the owners were enrolled, check its disk header.\n`,
        );
      if (challenge.owner) {
        const source = ownerLogSource(ctx.values, state?.infrastructure.clusterState, workspaceOwnerLog(ws));
        try {
          ownerApproval = await approveRecovery({
            io: ctx.io,
            settings,
            challenge,
            anchor,
            source,
            reason,
            ws,
            now: () => new Date(),
          });
        } finally {
          if (source.kind === "state") (source.state as { close?: () => void }).close?.();
        }
      }
      const r = await progress.step(`Recover ${endpoint}`, () =>
        recoverNode({
          endpoint,
          validators: [validator],
          masterSecret: master,
          ...(ownerApproval ? { ownerApproval } : {}),
        }),
      );
      const id = toHex(r.clusterId);
      const known = state?.clusterValues?.clusterID;
      results.push({
        endpoint,
        clusterId: id,
        matchesState: known === undefined ? null : known === id,
        approvedIn: ownerApproval?.sequence ?? null,
      });
    }
    if (ctx.json) ctx.io.stdout(`${JSON.stringify({ recovered: results })}\n`);
    else
      for (const r of results)
        ctx.io.stdout(
          `recovered ${r.endpoint}: cluster ${r.clusterId}${r.approvedIn === null ? "" : ` (approved by the owners in audit entry ${r.approvedIn})`}${r.matchesState === false ? " (NOT the cluster in the state file!)" : ""}\n`,
        );
    return results.some((r) => r.matchesState === false) ? ExitCode.INVALID : ExitCode.OK;
  },
});

/**
 * Where the owners' log is: --audit-log, --cluster-state, the workspace's cluster state when it is a
 * local SQLite file (reachable while every control plane is down), else the workspace's saved copy.
 */
function ownerLogSource(
  values: Readonly<Record<string, unknown>>,
  workspaceSpec: string | undefined,
  savedLog: string | undefined,
): OwnerLogSource {
  const file = stringOption(values["audit-log"], "audit-log");
  const spec = stringOption(values["cluster-state"], "cluster-state");
  if (file !== undefined && spec !== undefined)
    throw new UsageError("BAD_OPTION", "Name one owners' log", {
      expected: "--audit-log or --cluster-state",
    });
  if (file !== undefined) return { kind: "file", path: file };
  if (spec !== undefined) return { kind: "state", state: openClusterState(spec) };
  if (workspaceSpec?.startsWith("sqlite:")) return { kind: "state", state: openClusterState(workspaceSpec) };
  if (savedLog !== undefined) return { kind: "file", path: savedLog };
  throw new UsageError("MISSING_OPTION", "The node recorded cluster owners: their log is needed to approve", {
    expected: "--audit-log FILE (asterism audit export) or --cluster-state SPEC",
  });
}
