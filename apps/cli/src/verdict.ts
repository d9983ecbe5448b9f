import { describeError, isAsterismError } from "@asterism/errors";
import { type CommandContext, ExitCode } from "./command.ts";

/**
 * Print the outcome of a verification the same way for every `verify-*` command: exit 0 with the result
 * when valid; exit 1 with `{valid:false, code, message}` when the evidence is rejected.
 */
export function printVerdict(
  ctx: CommandContext,
  outcome: { valid: true; result: unknown; summary: string } | { valid: false; error: unknown },
): number {
  if (outcome.valid) {
    ctx.io.stdout(
      ctx.json
        ? `${JSON.stringify({ valid: true, ...(outcome.result as object) }, jsonReplacer)}\n`
        : `valid: ${outcome.summary}\n`,
    );
    return ExitCode.OK;
  }
  const e = outcome.error;
  const body = isAsterismError(e)
    ? { valid: false, ...e.toJSON() }
    : { valid: false, code: "INTERNAL", message: describeError(e) };
  if (ctx.json) ctx.io.stdout(`${JSON.stringify(body)}\n`);
  else ctx.io.stdout(`invalid: ${body.code}: ${body.message}\n`);
  return ExitCode.INVALID;
}

/** JSON.stringify replacer that renders bytes as hex and bigints as decimal strings. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("hex");
  if (typeof value === "bigint") return value.toString();
  return value;
}
