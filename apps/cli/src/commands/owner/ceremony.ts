import { randomBytes } from "node:crypto";
import { toBase64Url } from "@asterism/bytes";
import type { CliIo, CommandContext } from "../../command.ts";
import type { ConsoleDeps, ConsoleEvent } from "../../console/app.ts";
import { intOption, OPEN_OPTION, openBrowser, PORT_OPTION, TIMEOUT_OPTION, untilStopped } from "./shared.ts";

/** Options of every command that opens a local ceremony page. */
export const CEREMONY_OPTIONS = [PORT_OPTION, OPEN_OPTION, TIMEOUT_OPTION];

/** Where and how long a ceremony page is served. */
export interface CeremonySettings {
  /** Port on 127.0.0.1 (0: a free one). */
  readonly port: number;
  /** Launch the desktop's browser on the link. */
  readonly open: boolean;
  readonly timeoutS: number;
}

/** The ceremony settings from `--port`, `--open`, `--timeout`. */
export function ceremonySettings(values: Readonly<Record<string, unknown>>): CeremonySettings {
  return {
    port: intOption(values["port"], "port", 0, 0, 65535),
    open: values["open"] === true,
    timeoutS: intOption(values["timeout"], "timeout", 600, 1, 86_400),
  };
}

/** What a ceremony serves. */
export interface CeremonySpec {
  readonly mode: "enroll" | "approve" | "init";
  readonly source: ConsoleDeps["source"];
  readonly enroll?: ConsoleDeps["enroll"];
  /** What the user is asked to do, after "Open <link> in a browser on this machine to …". */
  readonly what: string;
  /** The event that ends the ceremony. */
  readonly until: (e: ConsoleEvent) => boolean;
}

/**
 * Serve a ceremony page (enroll, approve, or init) on 127.0.0.1 behind a one-time launch link, print the
 * link to stderr, and wait until `until` accepts an event, the timeout passes or `io.signal` (else
 * SIGINT/SIGTERM) stops it. The page runs the WebAuthn ceremony in the user's browser: private keys
 * never leave the authenticator and nothing secret passes through this process.
 */
export async function serveCeremony(
  io: CliIo,
  settings: CeremonySettings,
  spec: CeremonySpec,
): Promise<ConsoleEvent | undefined> {
  const launchToken = toBase64Url(new Uint8Array(randomBytes(32)));
  let done: (e: ConsoleEvent | undefined) => void = () => undefined;
  const finished = new Promise<ConsoleEvent | undefined>((resolve) => {
    done = resolve;
  });
  // Loaded on use: the console module embeds the browser script, compiled by a macro when transpiled.
  const { serveConsole } = await import("../../console/server.ts");
  const server = serveConsole(
    {
      source: spec.source,
      mode: spec.mode,
      now: () => new Date(),
      random: (n) => new Uint8Array(randomBytes(n)),
      launchToken,
      ...(spec.enroll ? { enroll: spec.enroll } : {}),
      onEvent: (e) => {
        if (spec.until(e)) done(e);
      },
    },
    { port: settings.port },
  );
  const link = `${server.url}/launch/${launchToken}`;
  io.stderr(`Open ${link} in a browser on this machine to ${spec.what}.\nWaiting (Ctrl-C to stop)…\n`);
  if (settings.open) openBrowser(link);
  const timer = setTimeout(() => done(undefined), settings.timeoutS * 1000);
  void untilStopped(io.signal).then(() => done(undefined));
  try {
    return await finished;
  } finally {
    clearTimeout(timer);
    // Let the page receive the last response before the server goes away.
    await Bun.sleep(300);
    await server.stop();
  }
}

/** {@link serveCeremony} with the settings of a command's `--port`, `--open` and `--timeout`. */
export function runCeremony(ctx: CommandContext, spec: CeremonySpec): Promise<ConsoleEvent | undefined> {
  return serveCeremony(ctx.io, ceremonySettings(ctx.values), spec);
}
