import { describe, expect, test } from "bun:test";
import { memoryIo } from "../io.ts";
import { createProgress } from "./progress.ts";
import { colourEnabled, createStyle } from "./style.ts";

const tty = (env: Record<string, string | undefined> = {}) => ({ ...memoryIo(env), isTTY: true });

describe("colour", () => {
  test.each([
    ["terminal", tty(), true],
    ["pipe", memoryIo(), false],
    ["terminal with NO_COLOR", tty({ NO_COLOR: "" }), false],
    ["terminal with TERM=dumb", tty({ TERM: "dumb" }), false],
  ])("%s", (_n, io, on) => {
    expect(colourEnabled(io)).toBe(on);
    expect(createStyle(io).red("x") === "x").toBe(!on);
  });
});

describe("progress", () => {
  test("plain lines when not a terminal", async () => {
    const io = memoryIo();
    let t = 0;
    const p = createProgress(io, { now: () => t });
    const r = await p.step(
      "start swtpm",
      async () => {
        t = 1500;
        return 3;
      },
      (n) => `${n} nodes`,
    );
    expect(r).toBe(3);
    await expect(p.step("boom", async () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    expect(io.err.join("")).toBe("ok   start swtpm: 3 nodes (1.5 s)\nFAIL boom (0 ms)\n");
    expect(io.out).toEqual([]);
  });

  test("spinner redraws in place on a terminal", async () => {
    const io = tty({ NO_COLOR: "1" });
    await createProgress(io).step("wait", () => Bun.sleep(200));
    const err = io.err.join("");
    expect(err).toContain("\r\x1b[K");
    expect(err).toMatch(/✓ wait \(\d+ ms\)\n$/);
    expect(err).not.toContain("\x1b[3"); // NO_COLOR: no colour codes, spinner still allowed
  });

  test("quiet prints nothing", async () => {
    const io = memoryIo();
    const p = createProgress(io, { quiet: true });
    await p.step("x", async () => 1);
    p.info("y");
    expect(io.err).toEqual([]);
  });
});
