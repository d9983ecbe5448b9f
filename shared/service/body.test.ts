import { describe, expect, test } from "bun:test";
import { readBodyText } from "./body.ts";

const stream = (chunks: number, size: number) =>
  new ReadableStream<Uint8Array>({
    pull(c) {
      if (chunks-- <= 0) c.close();
      else c.enqueue(new Uint8Array(size).fill(0x41));
    },
  });

describe("readBodyText", () => {
  test("a body within the cap is read whole", async () => {
    const r = await readBodyText(new Request("http://x/", { method: "POST", body: "héllo" }), 16);
    expect(r).toEqual({ ok: true, text: "héllo" });
  });

  test("no body is the empty string", async () => {
    expect(await readBodyText(new Request("http://x/"), 16)).toEqual({ ok: true, text: "" });
  });

  test.each([
    { name: "declared length above the cap", headers: { "content-length": "17" }, body: "x".repeat(17) },
    { name: "non-numeric content-length", headers: { "content-length": "1e3" }, body: "x" },
  ])("refused without reading: $name", async ({ headers, body }) => {
    const req = new Request("http://x/", { method: "POST", headers, body });
    expect((await readBodyText(req, 16)).ok).toBe(false);
  });

  test("a chunked body is cut off once the cap is crossed, not read to its end", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        if (pulled > 10_000) c.close();
        else c.enqueue(new Uint8Array(1024));
      },
    });
    const req = new Request("http://x/", { method: "POST", body, duplex: "half" } as RequestInit);
    expect((await readBodyText(req, 4096)).ok).toBe(false);
    expect(pulled).toBeLessThan(20);
  });

  test("exactly the cap is accepted", async () => {
    const req = new Request("http://x/", {
      method: "POST",
      body: stream(4, 4),
      duplex: "half",
    } as RequestInit);
    expect(await readBodyText(req, 16)).toEqual({ ok: true, text: "A".repeat(16) });
  });

  test("a body still arriving when the signal fires is refused as timeout, and the stream is cancelled", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(8).fill(0x41)); // then nothing more: a stalled client
      },
      cancel() {
        cancelled = true;
      },
    });
    const req = new Request("http://x/", { method: "POST", body, duplex: "half" } as RequestInit);
    const t0 = performance.now();
    expect(await readBodyText(req, 1024, { signal: AbortSignal.timeout(50) })).toEqual({
      ok: false,
      reason: "timeout",
    });
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(cancelled).toBe(true);
  });

  test("an already fired signal reads nothing; a signal that never fires changes nothing", async () => {
    const aborted = AbortSignal.abort();
    const req = new Request("http://x/", {
      method: "POST",
      body: stream(4, 4),
      duplex: "half",
    } as RequestInit);
    expect(await readBodyText(req, 16, { signal: aborted })).toEqual({ ok: false, reason: "timeout" });
    const ok = new Request("http://x/", {
      method: "POST",
      body: stream(4, 4),
      duplex: "half",
    } as RequestInit);
    expect(await readBodyText(ok, 16, { signal: new AbortController().signal })).toEqual({
      ok: true,
      text: "A".repeat(16),
    });
  });

  test("refusals say why", async () => {
    const req = new Request("http://x/", {
      method: "POST",
      headers: { "content-length": "17" },
      body: "x".repeat(17),
    });
    expect(await readBodyText(req, 16)).toEqual({ ok: false, reason: "too-large" });
  });
});
