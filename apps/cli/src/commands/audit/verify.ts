import { type AuditEntry, OwnerStore, parseAuditEntryValue, verifyAuditLog } from "@asterism/owner";
import * as v from "valibot";
import { defineCommand } from "../../command.ts";
import { readInputText, stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { printVerdict } from "../../verdict.ts";
import { WORKSPACE_OPTION } from "../../workspace/options.ts";
import { ANCHOR_OPTION, anchorOf, openStateFile, STATE_OPTION, stateSpecOf } from "../owner/shared.ts";

/** The export format (`/api/audit-log`, `asterism audit export`), or a bare array of entries. */
const LogFileSchema = v.union([
  v.strictObject({ format: v.literal("asterism.audit-log/v1"), entries: v.array(v.unknown()) }),
  v.array(v.unknown()),
]);

/** Parse an exported log; a malformed file is a usage error (exit 2), a bad entry an invalid log (exit 1). */
export function parseLogFile(text: string, what: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new UsageError("UNREADABLE_INPUT", `Cannot read ${what}`, { expected: "JSON", cause });
  }
  const r = v.safeParse(LogFileSchema, value);
  if (!r.success)
    throw new UsageError("UNREADABLE_INPUT", `Cannot read ${what}`, {
      expected: '{"format": "asterism.audit-log/v1", "entries": [...]}',
      actual: r.issues[0].message,
    });
  return Array.isArray(r.output) ? r.output : r.output.entries;
}

const MAX_ENDPOINT_BYTES = 64 * 1024 * 1024;

/** `asterism audit verify`: check an audit log from its genesis, offline. */
export const verifyCommand = defineCommand({
  name: "verify",
  summary: "Verify an audit log: hash chain, every owner approval, and the pinned genesis",
  args: "[FILE]",
  description:
    "Reads the log from FILE (as exported by the console or 'asterism audit export'), from a console or service endpoint, or from a cluster state file, and replays it: every entry must follow the previous one and carry enough valid owner passkey signatures. Exit 0 valid, 1 invalid.",
  options: [
    {
      name: "endpoint",
      type: "string",
      value: "URL",
      description: "Fetch URL/api/audit-log instead of reading a file",
    },
    WORKSPACE_OPTION,
    STATE_OPTION,
    ANCHOR_OPTION,
    { name: "cluster-id", type: "string", value: "HEX", description: "The cluster the log must be for" },
  ],
  examples: [
    "asterism audit verify audit-log.json --anchor 3f2a…",
    "asterism audit verify --endpoint http://localhost:8443 --anchor 3f2a… -o json",
    "asterism audit verify --state .asterism/state.db",
    "asterism audit verify   # the workspace's cluster state and pinned anchor (after mini up --owner)",
  ],
  async run(ctx) {
    const file = ctx.positionals[0];
    const endpoint = stringOption(ctx.values["endpoint"], "endpoint");
    const sources = [file, endpoint, ctx.values["state"]].filter((x) => x !== undefined).length;
    // Nothing named: the workspace's cluster state (recorded by init --owner / mini up --owner).
    if (sources > 1 || (sources === 0 && stateSpecOf(ctx.io, ctx.values) === undefined))
      throw new UsageError("BAD_OPTION", "Name exactly one audit log", {
        expected: "FILE, --endpoint URL or --state FILE (or a workspace with a cluster state)",
      });
    const anchor = anchorOf(ctx.io, ctx.values);
    const clusterId = stringOption(ctx.values["cluster-id"], "cluster-id");
    let entries: AuditEntry[];
    let raw: unknown[] | undefined;
    if (file !== undefined) raw = parseLogFile(readInputText(file, "audit log"), file);
    else if (endpoint !== undefined) {
      let url: URL;
      try {
        url = new URL("/api/audit-log", endpoint);
      } catch (cause) {
        throw new UsageError("BAD_VALUE", "Invalid --endpoint", {
          expected: "an http(s) URL",
          actual: endpoint,
          cause,
        });
      }
      if (url.protocol !== "http:" && url.protocol !== "https:")
        throw new UsageError("BAD_VALUE", "Invalid --endpoint", {
          expected: "an http(s) URL",
          actual: endpoint,
        });
      const res = await fetch(url, { signal: AbortSignal.timeout(15_000), redirect: "error" });
      const text = await res.text();
      if (!res.ok || text.length > MAX_ENDPOINT_BYTES)
        throw new UsageError("UNREADABLE_INPUT", `Cannot fetch ${url.href}`, {
          actual: `HTTP ${res.status}`,
        });
      raw = parseLogFile(text, url.href);
    }
    try {
      if (raw !== undefined) entries = raw.map((e) => parseAuditEntryValue(e));
      else {
        const state = openStateFile(ctx.io, ctx.values);
        try {
          entries = await new OwnerStore(state).readEntries();
        } finally {
          state.close();
        }
      }
      const { state, hashes } = await verifyAuditLog(entries, {
        ...(anchor ? { anchor } : {}),
        ...(clusterId ? { clusterId } : {}),
      });
      if (!anchor)
        ctx.io.stderr(
          `warning: genesis ${state.genesisHash} is not pinned (--anchor): the log is consistent, but could be another one\n`,
        );
      return printVerdict(ctx, {
        valid: true,
        result: {
          entries: hashes.length,
          clusterId: state.clusterId,
          genesis: state.genesisHash,
          anchorPinned: anchor !== undefined,
          head: state.head,
          owners: state.owners.map((o) => ({ name: o.name, passkeys: o.credentials.length })),
          threshold: state.threshold,
          policyApprovedIn: state.policy?.sequence ?? null,
          revokedNodes: [...state.revokedNodes.keys()],
        },
        summary: `${hashes.length} entries from genesis ${state.genesisHash}, head ${state.head.sequence} ${state.head.hash}; ${state.owners.length} owner(s), ${state.threshold} per change`,
      });
    } catch (error) {
      return printVerdict(ctx, { valid: false, error });
    }
  },
});
