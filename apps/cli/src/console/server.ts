/**
 * Serve the console on the loopback interface only. Pages are opened as `http://localhost:<port>`: a
 * secure context for WebAuthn whose RP ID `localhost` is valid (an IP address is not a valid RP ID).
 */
import { type ConsoleDeps, createConsoleApp } from "./app.ts";

/** A running console. */
export interface RunningConsole {
  readonly port: number;
  /** Base URL to open in a browser. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Start the console on 127.0.0.1 (`port` 0 picks a free port). */
export function serveConsole(deps: Omit<ConsoleDeps, "hosts">, opts: { port?: number } = {}): RunningConsole {
  let handler: ((req: Request) => Response | Promise<Response>) | undefined;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    fetch: (req) => (handler ? handler(req) : new Response("starting", { status: 503 })),
  });
  const port = server.port as number;
  const app = createConsoleApp({ ...deps, hosts: [`localhost:${port}`, `127.0.0.1:${port}`] });
  handler = (req) => app.fetch(req);
  return {
    port,
    url: `http://localhost:${port}`,
    stop: () => server.stop(true),
  };
}
