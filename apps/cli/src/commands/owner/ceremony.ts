import { randomBytes } from "node:crypto";
import { toBase64Url } from "@asterism/bytes";
import type { CommandContext } from "../../command.ts";
import type { ConsoleDeps, ConsoleEvent } from "../../console/app.ts";
import { intOption, OPEN_OPTION, openBrowser, PORT_OPTION, TIMEOUT_OPTION, untilStopped } from "./shared.ts";

/** Options of every command that opens a local ceremony page. */
export const CEREMONY_OPTIONS = [PORT_OPTION, OPEN_OPTION, TIMEOUT_OPTION];

/**
 * Serve a ceremony page (enroll or approve) on 127.0.0.1 behind a one-time launch link, print the link,
 * and wait until `until` accepts an event, the timeout passes or the user interrupts. The page runs the
 * WebAuthn ceremony in the user's browser: private keys never leave the authenticator and nothing secret
 * passes through this process.
 */
export async function runCeremony(
  ctx: CommandContext,
  opts: {
    mode: "enroll" | "approve";
    source: ConsoleDeps["source"];
    enroll?: ConsoleDeps["enroll"];
    what: string;
    until: (e: ConsoleEvent) => boolean;
  },
): Promise<ConsoleEvent | undefined> {
  const port = intOption(ctx.values["port"], "port", 0, 0, 65535);
  const timeoutS = intOption(ctx.values["timeout"], "timeout", 600, 1, 86_400);
  const launchToken = toBase64Url(new Uint8Array(randomBytes(32)));
  let done: (e: ConsoleEvent | undefined) => void = () => undefined;
  const finished = new Promise<ConsoleEvent | undefined>((resolve) => {
    done = resolve;
  });
  // Loaded on use: the console module embeds the browser script, compiled by a macro when transpiled.
  const { serveConsole } = await import("../../console/server.ts");
  const server = serveConsole(
    {
      source: opts.source,
      mode: opts.mode,
      now: () => new Date(),
      random: (n) => new Uint8Array(randomBytes(n)),
      launchToken,
      ...(opts.enroll ? { enroll: opts.enroll } : {}),
      onEvent: (e) => {
        if (opts.until(e)) done(e);
      },
    },
    { port },
  );
  const link = `${server.url}/launch/${launchToken}`;
  ctx.io.stderr(`Open ${link} in a browser on this machine to ${opts.what}.\nWaiting (Ctrl-C to stop)…\n`);
  if (ctx.values["open"] === true) openBrowser(link);
  const timer = setTimeout(() => done(undefined), timeoutS * 1000);
  void untilStopped(ctx.io.signal).then(() => done(undefined));
  try {
    return await finished;
  } finally {
    clearTimeout(timer);
    // Let the page receive the last response before the server goes away.
    await Bun.sleep(300);
    await server.stop();
  }
}
