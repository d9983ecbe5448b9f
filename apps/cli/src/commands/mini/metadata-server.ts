import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { serveMetadata } from "@asterism/metadata";
import { defineCommand, ExitCode } from "../../command.ts";
import { UsageError } from "../../usage-error.ts";

/**
 * `asterism mini metadata-server`: the local cluster's instance metadata endpoint (@asterism/metadata)
 * as a process of its own, started by `mini up` so it outlives the CLI. Listens on 127.0.0.1 (a free
 * port) and writes `{"metadata": "<url>"}` to the --announce file; stops on SIGTERM/SIGINT.
 */
export const metadataServerCommand = defineCommand({
  name: "metadata-server",
  summary: "Serve the local cluster's instance metadata (started by `mini up`)",
  description:
    "Runs until SIGTERM. The launcher token (the only credential that may register instances) is read from --token-file, never from the command line.",
  options: [
    {
      name: "token-file",
      type: "string",
      value: "FILE",
      description: "File holding the launcher's bearer token",
      required: true,
    },
    {
      name: "announce",
      type: "string",
      value: "FILE",
      description: 'Where to write {"metadata": URL} once listening',
      required: true,
    },
  ],
  examples: [
    "asterism mini metadata-server --token-file asterism-mini/metadata.token --announce asterism-mini/metadata.json",
  ],
  async run({ values }) {
    let token: string;
    try {
      token = readFileSync(String(values["token-file"]), "utf8").trim();
    } catch (cause) {
      throw new UsageError("UNREADABLE_INPUT", "Cannot read --token-file", { cause });
    }
    const server = await serveMetadata({ launcherToken: token, host: "127.0.0.1", port: 0 });
    const announce = String(values["announce"]);
    writeFileSync(`${announce}.tmp`, JSON.stringify({ metadata: server.url }), { mode: 0o600 });
    renameSync(`${announce}.tmp`, announce);
    await new Promise<void>((resolve) => {
      process.once("SIGTERM", () => resolve());
      process.once("SIGINT", () => resolve());
    });
    await server.close();
    return ExitCode.OK;
  },
});
