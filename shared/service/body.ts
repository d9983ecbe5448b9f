/**
 * The outcome of {@link readBodyText}: the text, or a refusal: `too-large` (nothing beyond the cap was
 * read) or `timeout` (the caller's signal fired before the body was complete; the rest is not read).
 */
export type CappedBody =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly reason: "too-large" | "timeout" };

/** Options of {@link readBodyText}. */
export interface ReadBodyOptions {
  /** Stop reading when this fires (a body deadline): the stream is cancelled, the answer is `timeout`. */
  readonly signal?: AbortSignal;
}

/**
 * Read a request body as UTF-8 text, but never more than `maxBytes`: a declared `content-length` above the
 * cap is refused without reading a byte, and a chunked (or lying) body is cut off as soon as the cap is
 * crossed. `await req.text()` would buffer whatever a client sends (up to the server's own limit, 128 MiB
 * for Bun.serve) before any size check could run: the abuse tests showed 6 × 16 MiB requests growing a
 * service by ~80 MiB. With `signal`, a client dribbling its body cannot keep the read (and whatever the
 * caller reserved for it) beyond the caller's deadline.
 */
export async function readBodyText(
  req: Request,
  maxBytes: number,
  opts: ReadBodyOptions = {},
): Promise<CappedBody> {
  const declared = req.headers.get("content-length");
  if (declared !== null && (!/^\d+$/.test(declared) || Number(declared) > maxBytes)) {
    await req.body?.cancel().catch(() => undefined);
    return { ok: false, reason: "too-large" };
  }
  if (req.body === null) return { ok: true, text: "" };
  const { signal } = opts;
  const reader = req.body.getReader();
  // Cancelling the reader settles a pending read (as done), so a stalled client cannot block us past the signal.
  const onAbort = () => void reader.cancel().catch(() => undefined);
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const next = await reader.read().catch((err: unknown) => {
        if (signal?.aborted) return undefined;
        throw err;
      });
      if (signal?.aborted || next === undefined) return { ok: false, reason: "timeout" };
      if (next.done) break;
      const value = next.value;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return { ok: false, reason: "too-large" };
      }
      chunks.push(value);
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return { ok: true, text: new TextDecoder().decode(all) };
}
