import type { ClusterState, ObjectKind, StoredObject } from "./types.ts";

/**
 * Call `onChange` whenever an object's version changes (including its first appearance and deletion),
 * by polling every `intervalMs` until `signal` aborts. Polling rather than a watch stream keeps both
 * backends identical and survives API-server restarts without resumption logic; services reload policy
 * within one interval. Errors of a poll are reported to `onError` and the loop goes on.
 */
export function watchObject(
  state: ClusterState,
  kind: ObjectKind,
  name: string,
  opts: {
    intervalMs: number;
    signal: AbortSignal;
    onChange: (o: StoredObject | undefined) => void | Promise<void>;
    onError?: (err: unknown) => void;
  },
): Promise<void> {
  let last: string | undefined | null = null;
  return (async () => {
    while (!opts.signal.aborted) {
      try {
        const o = await state.get(kind, name);
        const v = o?.version;
        if (v !== last) {
          last = v;
          await opts.onChange(o);
        }
      } catch (err) {
        opts.onError?.(err);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, opts.intervalMs);
        opts.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(t);
            resolve();
          },
          { once: true },
        );
      });
    }
  })();
}
