import { fromHex, toHex } from "@asterism/bytes";
import { CLUSTER_ID_BYTES } from "@asterism/measurements";
import { IMAGE_PCR_MEANINGS } from "../boot/events.ts";
import { ClusterError } from "../cluster/errors.ts";
import { nodePolicy } from "../cluster/policy.ts";
import { type NodeTarget, toUrl, verifyTargets } from "../cluster/targets.ts";
import { type NodeVerdict, pcrName, verifyNode } from "../cluster/verify-client.ts";
import { defineCommand, ExitCode } from "../command.ts";
import { loadConfig } from "../config/load.ts";
import { stringOption } from "../input.ts";
import { createStyle } from "../ui/style.ts";
import { UsageError } from "../usage-error.ts";
import { VERSION } from "../version.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../workspace/options.ts";
import { readState } from "../workspace/state.ts";

type Result = NodeVerdict & { name?: string };

function clusterIdFrom(value: unknown, stateId: string | undefined): Uint8Array {
  const given = stringOption(value, "cluster-id");
  const hex = given ?? stateId;
  if (hex === undefined) {
    throw new ClusterError("NO_CLUSTER_ID", "Cannot verify: the cluster ID is unknown", {
      expected: "a state file from `init`/`mini up`, or --cluster-id HEX",
    });
  }
  let id: Uint8Array;
  try {
    id = fromHex(hex);
  } catch (cause) {
    throw new UsageError("BAD_VALUE", "Invalid --cluster-id", { expected: "hex", cause });
  }
  if (id.length !== CLUSTER_ID_BYTES)
    throw new UsageError("BAD_VALUE", "Invalid --cluster-id", {
      expected: `${CLUSTER_ID_BYTES} bytes`,
      actual: `${id.length} bytes`,
    });
  return id;
}

/**
 * `asterism verify`: ask nodes' VerificationServices for fresh attestation and check it against the
 * configured measurements plus PCR 15 = SHA-256(0³² ‖ SHA-256(clusterID)). Exit 0 when every node is
 * valid, 1 when any node's evidence is invalid (the failing PCRs are named), 3 when a node cannot be
 * asked.
 */
export const verifyClusterCommand = defineCommand({
  name: "verify",
  summary: "Verify the attestation of cluster nodes (fresh nonce, measurements, cluster ID)",
  description: [
    "Sends a fresh 32-byte nonce to each node's VerificationService and validates the returned document:",
    "quote signature, nonce binding, event-log replay, the configured measurements, and PCR 15 =",
    "SHA-256(0^32 || SHA-256(clusterID)). Without --node, every node in the state file is verified.",
    "With several nodes, each is asked through its batch endpoint (POST /v1/attest/batch: one quote",
    "serves every verifier waiting, with a proof that this nonce is in the batch); a node without it is",
    "asked with GET /?nonce=.",
  ].join("\n"),
  options: [
    WORKSPACE_OPTION,
    CONFIG_OPTION,
    {
      name: "node",
      type: "string",
      value: "ADDR",
      multiple: true,
      description: "VerificationService host:port or URL (repeatable)",
    },
    { name: "all", type: "boolean", description: "Every node in the state file (the default)" },
    {
      name: "cluster-id",
      type: "string",
      value: "HEX",
      description: "Cluster ID (default: from the state file)",
    },
  ],
  examples: [
    "asterism verify",
    "asterism verify --node 127.0.0.1:41234",
    "asterism verify --all --output json",
    "asterism verify --node https://10.0.0.5:30081 --cluster-id 3f2a…",
  ],
  async run(ctx) {
    const ws = workspaceFrom(ctx);
    const config = loadConfig(configPathFrom(ctx, ws));
    const state = readState(ws.state);
    const nodes = (ctx.values["node"] as string[] | undefined) ?? [];
    if (nodes.length && ctx.values["all"] === true) {
      throw new UsageError("BAD_OPTION", "Use --node or --all, not both", { expected: "one of them" });
    }
    const targets: NodeTarget[] = nodes.length ? nodes.map((n) => ({ url: toUrl(n) })) : verifyTargets(state);
    if (!targets.length) {
      throw new ClusterError("NO_ENDPOINT", "Nothing to verify", {
        expected: "--node ADDR, or a state file listing the nodes (`asterism mini up`)",
      });
    }
    const clusterId = clusterIdFrom(ctx.values["cluster-id"], state?.clusterValues?.clusterID);
    const policy = nodePolicy(config, clusterId);
    // Many nodes at once: the batch endpoint, so a node answering us and other verifiers together
    // quotes once; nodes without it are asked the single way.
    const batch = targets.length > 1;
    // A VM local cluster boots the node image: its PCRs mean what the image's boot measures.
    const meanings = state?.mini?.image ? IMAGE_PCR_MEANINGS : undefined;
    const results: Result[] = await Promise.all(
      targets.map(async (t): Promise<Result> => {
        try {
          const r = await verifyNode({
            url: t.url,
            policy,
            build: `asterism ${VERSION}`,
            batch,
            ...(meanings ? { meanings } : {}),
          });
          return t.name ? { ...r, name: t.name } : r;
        } catch (err) {
          if (!(err instanceof ClusterError)) throw err;
          return {
            url: t.url,
            ...(t.name ? { name: t.name } : {}),
            valid: false,
            code: err.code,
            message: err.message,
            mismatches: [],
          };
        }
      }),
    );
    const unreachable = results.filter(
      (r) => !r.valid && (r.code === "UNREACHABLE" || r.code === "BAD_RESPONSE"),
    );
    const invalid = results.filter((r) => !r.valid && !unreachable.includes(r));
    const exit = invalid.length ? ExitCode.INVALID : unreachable.length ? ExitCode.FAILED : ExitCode.OK;
    if (ctx.json) {
      ctx.io.stdout(
        `${JSON.stringify({ valid: exit === ExitCode.OK, clusterId: toHex(clusterId), nodes: results })}\n`,
      );
      return exit;
    }
    const s = createStyle(ctx.io);
    const short = toHex(clusterId).slice(0, 16);
    for (const r of results) {
      const who = r.name ? `${r.name} (${r.url})` : r.url;
      if (r.valid) {
        const indices = Object.keys(r.measurements).length;
        const log = r.eventLogVerified ? "event log replayed" : "no event log";
        const via = r.via === "batch" ? ", batched" : "";
        ctx.io.stdout(
          `${s.green("valid")}    ${who}: ${r.variant}, ${indices} PCRs quoted, ${log}${via}, cluster ${short}…\n`,
        );
        for (const w of r.warnings) ctx.io.stdout(`         ${s.yellow("warning:")} ${w}\n`);
      } else {
        ctx.io.stdout(`${s.red("INVALID")}  ${who}: ${r.code}\n`);
        if (r.mismatches.length) {
          for (const m of r.mismatches)
            ctx.io.stdout(
              `         ${pcrName(m.index, meanings)}: expected ${m.expected}, got ${m.actual ?? "nothing"}\n`,
            );
        } else ctx.io.stdout(`         ${r.message}\n`);
      }
    }
    const ok = results.length - invalid.length - unreachable.length;
    ctx.io.stdout(
      `${ok}/${results.length} node(s) verified${invalid.length ? `, ${invalid.length} invalid` : ""}${unreachable.length ? `, ${unreachable.length} unreachable` : ""}.\n`,
    );
    return exit;
  },
});
