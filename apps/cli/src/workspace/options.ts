import { resolve } from "node:path";
import type { CommandContext, OptionSpec } from "../command.ts";
import { stringOption } from "../input.ts";
import { type WorkspacePaths, workspacePaths } from "./paths.ts";

/** `-C/--workspace DIR`, shared by every command that reads or writes workspace files. */
export const WORKSPACE_OPTION: OptionSpec = {
  name: "workspace",
  short: "C",
  type: "string",
  value: "DIR",
  description: "Workspace directory (default: $ASTERISM_WORKSPACE or the current directory)",
};

/** The workspace a command works in. */
export function workspaceFrom(ctx: CommandContext): WorkspacePaths {
  const dir = stringOption(ctx.values["workspace"], "workspace") ?? ctx.io.env["ASTERISM_WORKSPACE"] ?? ".";
  return workspacePaths(resolve(ctx.io.cwd, dir));
}

/** `--config FILE` (default: the workspace's asterism-conf.yaml). */
export const CONFIG_OPTION: OptionSpec = {
  name: "config",
  type: "string",
  value: "FILE",
  description: "Configuration file (default: <workspace>/asterism-conf.yaml)",
};

/** The configuration file a command reads. */
export function configPathFrom(ctx: CommandContext, ws: WorkspacePaths): string {
  const p = stringOption(ctx.values["config"], "config");
  return p === undefined ? ws.config : resolve(ctx.io.cwd, p);
}
