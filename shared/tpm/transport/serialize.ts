import type { TpmTransport } from "./types.ts";

/**
 * Serialize access: one command in flight at a time. TPMs process one command at a time, and swtpm's
 * socket carries no request ids, so overlapping sends would interleave responses.
 */
export function serializeTransport<T extends TpmTransport>(inner: T): T {
  let tail: Promise<unknown> = Promise.resolve();
  const send = (command: Uint8Array): Promise<Uint8Array> => {
    const run = tail.then(
      () => inner.send(command),
      () => inner.send(command),
    );
    tail = run.catch(() => undefined);
    return run;
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "send") return send;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
