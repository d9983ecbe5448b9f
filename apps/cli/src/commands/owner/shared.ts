/**
 * Helpers shared by the owner, audit and console commands: the cluster-state file, the pinned anchor,
 * the local ceremony server's lifetime, and opening a browser.
 */
import { existsSync } from "node:fs";
import { openClusterState } from "@asterism/lifecycle";
import { type ClusterState, openSqliteState } from "@asterism/state";
import type { CliIo, OptionSpec } from "../../command.ts";
import { stringOption } from "../../input.ts";
import { UsageError } from "../../usage-error.ts";
import { workspaceFrom } from "../../workspace/options.ts";
import { readState, type State } from "../../workspace/state.ts";

/** `--state FILE`: the cluster state (the local cluster's SQLite file). */
export const STATE_OPTION: OptionSpec = {
  name: "state",
  type: "string",
  value: "FILE",
  description:
    "Cluster state: a SQLite file, sqlite:<path> or kube:<kubeconfig>[#ns] (default $ASTERISM_STATE, else the workspace's)",
};

/** `--anchor HEX`: the genesis hash printed by `asterism owner enroll`. */
export const ANCHOR_OPTION: OptionSpec = {
  name: "anchor",
  type: "string",
  value: "HEX",
  description: "Pinned genesis hash of the audit log (default $ASTERISM_OWNER_ANCHOR, else the workspace's)",
};

export const PORT_OPTION: OptionSpec = {
  name: "port",
  type: "string",
  value: "N",
  description: "Port on 127.0.0.1 (default: a free one)",
};

export const OPEN_OPTION: OptionSpec = {
  name: "open",
  type: "boolean",
  description: "Open the page in the default browser (xdg-open)",
};

export const TIMEOUT_OPTION: OptionSpec = {
  name: "timeout",
  type: "string",
  value: "SECONDS",
  description: "Give up after this long (default 600)",
};

/**
 * The workspace's state file (`-C DIR`, $ASTERISM_WORKSPACE or the current directory), if there is one:
 * `init --owner` and `mini up --owner` record the owners' anchor and the cluster state there, so the
 * owner, audit and console commands find both without flags.
 */
export function workspaceState(io: CliIo, values: Readonly<Record<string, unknown>>): State | undefined {
  const ctx = {
    io,
    values: values as Record<string, string | boolean | undefined>,
    positionals: [],
    json: false,
  };
  return readState(workspaceFrom(ctx).state);
}

/** The cluster state spec from --state, $ASTERISM_STATE or the workspace's state file. */
export function stateSpecOf(io: CliIo, values: Readonly<Record<string, unknown>>): string | undefined {
  return (
    stringOption(values["state"], "state") ??
    io.env["ASTERISM_STATE"] ??
    workspaceState(io, values)?.infrastructure.clusterState
  );
}

/**
 * Open the cluster state named by --state, $ASTERISM_STATE or the workspace: a SQLite file path
 * (`create` allows a new one), or the services' spec `sqlite:<path>` / `kube:<kubeconfig>[#namespace]`
 * (a cluster's Secrets and ConfigMaps through its API server).
 */
export function openStateFile(
  io: CliIo,
  values: Readonly<Record<string, unknown>>,
  opts: { create?: boolean } = {},
): ClusterState & { close(): void } {
  const spec = stateSpecOf(io, values);
  if (!spec)
    throw new UsageError("MISSING_OPTION", "No cluster state", {
      expected: "--state FILE, $ASTERISM_STATE, or a workspace whose state file names one (-C DIR)",
    });
  const kube = spec.startsWith("kube:");
  const path = spec.startsWith("sqlite:") ? spec.slice("sqlite:".length) : spec;
  if (!kube && !opts.create && !existsSync(path))
    throw new UsageError("UNREADABLE_INPUT", `Cannot read cluster state ${path}`, { actual: "no such file" });
  try {
    return kube ? openClusterState(spec) : openSqliteState(path);
  } catch (cause) {
    throw new UsageError("UNREADABLE_INPUT", `Cannot open cluster state ${spec.slice(0, 200)}`, {
      actual: cause instanceof Error ? cause.message.slice(0, 200) : String(cause),
      cause,
    });
  }
}

/**
 * The anchor from --anchor, $ASTERISM_OWNER_ANCHOR or the workspace's state file (recorded by
 * `init --owner` / `mini up --owner`), 64 lower-case hex digits, if any.
 */
export function anchorOf(io: CliIo, values: Readonly<Record<string, unknown>>): string | undefined {
  const a =
    stringOption(values["anchor"], "anchor") ??
    io.env["ASTERISM_OWNER_ANCHOR"] ??
    workspaceState(io, values)?.clusterValues?.ownerAnchor;
  if (a === undefined) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(a))
    throw new UsageError("BAD_VALUE", "Invalid --anchor", {
      expected: "64 hex digits",
      actual: JSON.stringify(a.slice(0, 70)),
    });
  return a.toLowerCase();
}

/** A whole number option within bounds. */
export function intOption(value: unknown, option: string, def: number, min: number, max: number): number {
  const s = stringOption(value, option);
  if (s === undefined) return def;
  const n = /^[0-9]{1,10}$/.test(s) ? Number(s) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, {
      expected: `a whole number ${min}..${max}`,
      actual: JSON.stringify(s),
    });
  return n;
}

/** Resolves when `signal` aborts, or on SIGINT/SIGTERM when no signal was given. */
export function untilStopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal) {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
      return;
    }
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

/** Best effort: ask the desktop to open `url`. */
export function openBrowser(url: string): void {
  try {
    Bun.spawn(["xdg-open", url], { stdout: "ignore", stderr: "ignore" }).unref();
  } catch {
    // No desktop: the URL is printed anyway.
  }
}
