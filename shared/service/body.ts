/** The outcome of {@link readBodyText}: the text, or "too large" (nothing beyond the cap was read). */
export type CappedBody = { readonly ok: true; readonly text: string } | { readonly ok: false };

/**
 * Read a request body as UTF-8 text, but never more than `maxBytes`: a declared `content-length` above the
 * cap is refused without reading a byte, and a chunked (or lying) body is cut off as soon as the cap is
 * crossed. `await req.text()` would buffer whatever a client sends (up to the server's own limit, 128 MiB
 * for Bun.serve) before any size check could run: the abuse tests showed 6 × 16 MiB requests growing a
 * service by ~80 MiB.
 */
export async function readBodyText(req: Request, maxBytes: number): Promise<CappedBody> {
  const declared = req.headers.get("content-length");
  if (declared !== null && (!/^\d+$/.test(declared) || Number(declared) > maxBytes)) {
    await req.body?.cancel().catch(() => undefined);
    return { ok: false };
  }
  if (req.body === null) return { ok: true, text: "" };
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { ok: false };
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return { ok: true, text: new TextDecoder().decode(all) };
}
