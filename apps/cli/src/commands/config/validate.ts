import { defineCommand, ExitCode } from "../../command.ts";
import { ConfigError } from "../../config/errors.ts";
import { loadConfig } from "../../config/load.ts";
import { configProvider } from "../../config/schema.ts";
import { CONFIG_OPTION, configPathFrom, WORKSPACE_OPTION, workspaceFrom } from "../../workspace/options.ts";

/** `asterism config validate`: check the configuration and point at every problem's line. */
export const validateCommand = defineCommand({
  name: "validate",
  summary: "Check the configuration file; every problem is reported as file:line:column",
  options: [WORKSPACE_OPTION, CONFIG_OPTION],
  examples: ["asterism config validate", "asterism config validate --config prod.yaml --output json"],
  async run(ctx) {
    const file = configPathFrom(ctx, workspaceFrom(ctx));
    try {
      const c = loadConfig(file);
      const summary = { valid: true, file, provider: configProvider(c), variant: c.attestation.variant };
      ctx.io.stdout(
        ctx.json
          ? `${JSON.stringify(summary)}\n`
          : `valid: ${file} (${summary.provider}, ${summary.variant})\n`,
      );
      return ExitCode.OK;
    } catch (err) {
      if (!(err instanceof ConfigError) || err.code === "CONFIG_UNREADABLE") throw err;
      if (ctx.json) ctx.io.stdout(`${JSON.stringify({ valid: false, ...err.toJSON() })}\n`);
      else ctx.io.stderr(`${err.lines().join("\n")}\n`);
      return ExitCode.INVALID;
    }
  },
});
