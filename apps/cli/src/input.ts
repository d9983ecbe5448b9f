import { readFileSync } from "node:fs";
import { fromHex } from "@asterism/bytes";
import { UsageError } from "./usage-error.ts";

/** Inputs larger than this are refused before reading: no evidence file is anywhere near it. */
const MAX_INPUT_BYTES = 16 * 1024 * 1024;

/**
 * Read a file named on the command line; unreadable or oversized input is a usage error (exit 2).
 * `maxBytes` raises the limit for inputs that are large by nature (disk images).
 */
export function readInputFile(path: string, what: string, maxBytes = MAX_INPUT_BYTES): Uint8Array {
  try {
    const file = Bun.file(path);
    if (file.size > maxBytes) {
      throw new UsageError("UNREADABLE_INPUT", `Cannot read ${what} ${path}`, {
        expected: `at most ${maxBytes} bytes`,
        actual: `${file.size} bytes`,
      });
    }
    return new Uint8Array(readFileSync(path));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError("UNREADABLE_INPUT", `Cannot read ${what} ${path}`, {
      actual: err instanceof Error ? err.message : String(err),
      cause: err,
    });
  }
}

/** Read a text file named on the command line (UTF-8). */
export function readInputText(path: string, what: string): string {
  return new TextDecoder().decode(readInputFile(path, what));
}

/** Decode a hex option value (`--nonce`, `--report-data`), naming the option on failure. */
export function hexOption(value: unknown, option: string): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, { expected: "hex", actual: typeof value });
  try {
    return fromHex(value);
  } catch (err) {
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, {
      expected: "an even number of hex digits",
      actual: JSON.stringify(value.slice(0, 20)),
      cause: err,
    });
  }
}

/** Parse `--now` (RFC 3339) to a Date; absent means the real clock. */
export function timeOption(value: unknown, option = "now"): Date | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  const d = new Date(s);
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) ||
    Number.isNaN(d.getTime())
  ) {
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, {
      expected: "an RFC 3339 time such as 2023-07-01T01:00:00Z",
      actual: JSON.stringify(s),
    });
  }
  return d;
}

/** A string option's value, or undefined; a boolean where a value was required is a usage error. */
export function stringOption(value: unknown, option: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string")
    throw new UsageError("BAD_VALUE", `Invalid --${option}`, { expected: "a value", actual: typeof value });
  return value;
}
