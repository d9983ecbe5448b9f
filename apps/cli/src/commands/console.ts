import { randomBytes } from "node:crypto";
import { defineCommand, ExitCode } from "../command.ts";
import { stateSource } from "../console/source.ts";
import { WORKSPACE_OPTION } from "../workspace/options.ts";
import {
  ANCHOR_OPTION,
  anchorOf,
  intOption,
  OPEN_OPTION,
  openBrowser,
  openStateFile,
  PORT_OPTION,
  STATE_OPTION,
  untilStopped,
} from "./owner/shared.ts";

/** `asterism console`: the web console, served on 127.0.0.1 until interrupted. */
export const consoleCommand = defineCommand({
  name: "console",
  summary: "Serve the web console locally (passkey sign-in, overview, approvals, audit log)",
  description:
    "Serves the console on 127.0.0.1 only. Owners sign in with their passkey; the overview shows nodes and their last attestation verdict, the approved policy (warn-only measurements marked), pending changes with a diff and an approve button, and the verified audit log.",
  options: [WORKSPACE_OPTION, STATE_OPTION, ANCHOR_OPTION, PORT_OPTION, OPEN_OPTION],
  examples: ["asterism console --state .asterism/state.db --anchor 3f2a… --open"],
  async run(ctx) {
    const state = openStateFile(ctx.io, ctx.values);
    const anchor = anchorOf(ctx.io, ctx.values);
    const port = intOption(ctx.values["port"], "port", 0, 0, 65535);
    // Loaded on use: the console module embeds the browser script, compiled by a macro when transpiled.
    const { serveConsole } = await import("../console/server.ts");
    const server = serveConsole(
      {
        source: stateSource(state, anchor ? { anchor } : {}),
        mode: "console",
        now: () => new Date(),
        random: (n) => new Uint8Array(randomBytes(n)),
      },
      { port },
    );
    try {
      ctx.io.stderr(`Console at ${server.url}/ (127.0.0.1 only). Ctrl-C to stop.\n`);
      if (!anchor) ctx.io.stderr("warning: no --anchor: the audit log is checked for consistency only\n");
      if (ctx.json) ctx.io.stdout(`${JSON.stringify({ url: server.url, port: server.port })}\n`);
      if (ctx.values["open"] === true) openBrowser(server.url);
      await untilStopped(ctx.io.signal);
      return ExitCode.OK;
    } finally {
      await server.stop();
      state.close();
    }
  },
});
