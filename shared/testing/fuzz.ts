import { isAsterismError } from "@asterism/errors";

/** An error class a fuzzed function is allowed to throw. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** True when FUZZ_RUNS asks for the long mode (`bun run fuzz`). */
export function isLongFuzz(): boolean {
  const n = Number(process.env["FUZZ_RUNS"]);
  return Number.isInteger(n) && n > 0;
}

/**
 * The per-test timeout of a fuzz test: `quickMs` in the quick mode, two hours in the long mode (the
 * runner, `scripts/fuzz.ts`, bounds every file's wall time itself).
 */
export function fuzzTimeout(quickMs: number): number {
  return isLongFuzz() ? 2 * 60 * 60 * 1000 : quickMs;
}

function check(e: unknown, allowed: readonly ErrorClass[]): string {
  if (!allowed.some((c) => e instanceof c)) throw e; // an unexpected exception type is a finding
  if (!isAsterismError(e) || typeof e.code !== "string" || e.code === "")
    throw new Error(`typed error without a code: ${String(e)}`, { cause: e });
  return e.code;
}

/**
 * Run `fn`; it may return or throw an instance of one of `allowed` (each an Asterism error with a code).
 * Anything else is rethrown, so fast-check reports it with the input. Returns the code, or undefined.
 */
export function onlyTyped(allowed: readonly ErrorClass[], fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return check(e, allowed);
  }
}

/** {@link onlyTyped} for an async function. */
export async function onlyTypedAsync(
  allowed: readonly ErrorClass[],
  fn: () => Promise<unknown>,
): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (e) {
    return check(e, allowed);
  }
}

/** Flip, overwrite, insert or delete bytes of `seed` at fuzzer-chosen positions (for fc.map). */
export function applyMutations(
  seed: Uint8Array,
  edits: readonly {
    readonly at: number;
    readonly op: "xor" | "set" | "insert" | "delete";
    readonly byte: number;
  }[],
): Uint8Array {
  let out = seed.slice();
  for (const { at, op, byte } of edits) {
    const i = out.length === 0 ? 0 : at % (out.length + (op === "insert" ? 1 : 0));
    if (op === "xor" && out.length > 0) out[i] = (out[i] as number) ^ (byte === 0 ? 1 : byte);
    else if (op === "set" && out.length > 0) out[i] = byte;
    else if (op === "insert") out = new Uint8Array([...out.subarray(0, i), byte, ...out.subarray(i)]);
    else if (op === "delete" && out.length > 0)
      out = new Uint8Array([...out.subarray(0, i), ...out.subarray(i + 1)]);
  }
  return out;
}
