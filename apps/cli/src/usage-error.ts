import { AsterismError } from "@asterism/errors";

/** Codes for a command line that cannot be acted on. Always exit code 2. */
export type UsageErrorCode =
  | "UNKNOWN_COMMAND"
  | "BAD_OPTION"
  | "MISSING_OPTION"
  | "BAD_VALUE"
  | "UNREADABLE_INPUT";

/** A usage problem: the message says what was expected and what came. */
export class UsageError extends AsterismError<UsageErrorCode> {
  override readonly domain = "cli";
}
