/**
 * Race `work` against a timer. The timer is always cleared, so a settled race leaves nothing pending.
 * The losing work keeps running (promises cannot be cancelled); callers must not depend on its result.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
