import { defineCommand, ExitCode } from "../command.ts";
import { VERSION } from "../version.ts";

export const versionCommand = defineCommand({
  name: "version",
  summary: "Print the Asterism version and runtime",
  options: [],
  examples: ["asterism version", "asterism version --output json"],
  async run({ io, json }) {
    const info = {
      version: VERSION,
      runtime: `bun ${Bun.version}`,
      platform: `${process.platform}-${process.arch}`,
    };
    io.stdout(
      json ? `${JSON.stringify(info)}\n` : `asterism ${info.version} (${info.runtime}, ${info.platform})\n`,
    );
    return ExitCode.OK;
  },
});
