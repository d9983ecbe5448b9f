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
});
