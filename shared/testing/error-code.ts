import { isAsterismError } from "@asterism/errors";

/**
 * The `code` of the Asterism error `fn` throws, or undefined when it returns normally. Anything thrown
 * that is not an Asterism error is rethrown, so a test expecting a coded rejection fails loudly on a
 * crash instead of comparing against a made-up string. Tests assert codes, not messages (house style §9).
 */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (isAsterismError(e)) return e.code;
    throw e;
  }
  return undefined;
}

/** {@link codeOf} for a promise (or a function returning one). */
export async function codeOfAsync(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (isAsterismError(e)) return e.code;
    throw e;
  }
  return undefined;
}
