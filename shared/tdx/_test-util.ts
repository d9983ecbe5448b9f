/** Test-only assertion helpers (not exported from index.ts). */
import { expect } from "bun:test";
import type { AsterismError } from "@asterism/errors";

/** Await `p` and assert it rejects with an instance of `cls` carrying `code`. */
export async function expectCode(
  p: Promise<unknown> | (() => unknown),
  cls: abstract new (...a: never[]) => AsterismError<string>,
  code: string,
): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(cls);
    expect((err as AsterismError<string>).code).toBe(code);
    return;
  }
  throw new Error(`expected ${cls.name} ${code}, but it succeeded`);
}
