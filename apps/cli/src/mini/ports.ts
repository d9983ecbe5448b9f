import { connect, createServer } from "node:net";

/** The only address the local cluster uses. */
export const LOOPBACK = "127.0.0.1";

/** True when nothing listens on `port` of 127.0.0.1 right now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, LOOPBACK, () => s.close(() => resolve(true)));
  });
}

/** True when something accepts connections on `port`. */
export function canConnect(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Poll `check` every `intervalMs` until it returns a value (not undefined) or `timeoutMs` passes.
 * `alive` lets the caller stop early when the process being waited for died.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs: number; intervalMs?: number; alive?: () => boolean },
): Promise<T | undefined> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (opts.alive && !opts.alive()) return undefined;
    if (Date.now() >= deadline) return undefined;
    await Bun.sleep(opts.intervalMs ?? 25);
  }
}
