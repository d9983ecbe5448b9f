import { describe, expect, test } from "bun:test";
import { AsterismError, describeError, isAsterismError } from "./index.ts";

type DemoCode = "TOO_SHORT" | "BAD_MAGIC";
class DemoError extends AsterismError<DemoCode> {
  override readonly domain = "demo";
}

describe("AsterismError", () => {
  test("message says what was expected and what came", () => {
    const e = new DemoError("TOO_SHORT", "Cannot parse header", { expected: "10 bytes", actual: "3 bytes" });
    expect(e.message).toBe("Cannot parse header: expected 10 bytes, got 3 bytes");
    expect(e.code).toBe("TOO_SHORT");
    expect(e.name).toBe("DemoError");
    expect(e).toBeInstanceOf(Error);
  });

  test("partial details render without dangling words", () => {
    expect(new DemoError("BAD_MAGIC", "Unexpected magic").message).toBe("Unexpected magic");
    expect(new DemoError("BAD_MAGIC", "Unexpected magic", { actual: "0x1" }).message).toBe(
      "Unexpected magic: got 0x1",
    );
    expect(new DemoError("BAD_MAGIC", "Unexpected magic", { expected: "0x2" }).message).toBe(
      "Unexpected magic: expected 0x2",
    );
  });

  test("cause is kept but not serialized", () => {
    const cause = new Error("inner secret-ish detail");
    const e = new DemoError("BAD_MAGIC", "Unexpected magic", { cause });
    expect(e.cause).toBe(cause);
    expect(JSON.stringify(e)).not.toContain("inner");
    expect(e.toJSON()).toEqual({ domain: "demo", code: "BAD_MAGIC", message: "Unexpected magic" });
  });

  test("isAsterismError narrows by domain and code", () => {
    const e = new DemoError("TOO_SHORT", "x");
    expect(isAsterismError(e)).toBe(true);
    expect(isAsterismError(e, "demo", "TOO_SHORT")).toBe(true);
    expect(isAsterismError(e, "demo", "BAD_MAGIC")).toBe(false);
    expect(isAsterismError(e, "other")).toBe(false);
    expect(isAsterismError(new Error("plain"))).toBe(false);
  });

  test("describeError never prints a stack", () => {
    expect(describeError(new DemoError("TOO_SHORT", "x"))).toBe("TOO_SHORT: x");
    expect(describeError(new TypeError("y"))).toBe("TypeError: y");
    expect(describeError("a string")).toBe("non-error thrown: string");
  });
});
