/**
 * The `asterism` CLI as a library: the command model, the runner and the command tree, so tests (and
 * other tools) can run commands in-process with a captured I/O.
 *
 * @module
 */
export {
  type CliIo,
  type Command,
  type CommandContext,
  type CommandGroup,
  defineCommand,
  defineGroup,
  ExitCode,
  type OptionSpec,
} from "./command.ts";
export { rootCommand } from "./commands/index.ts";
export { hexOption, readInputFile, readInputText, stringOption, timeOption } from "./input.ts";
export { memoryIo, processIo } from "./io.ts";
export { runCli } from "./runner.ts";
export { UsageError, type UsageErrorCode } from "./usage-error.ts";
export { jsonReplacer, printVerdict } from "./verdict.ts";
export { VERSION } from "./version.ts";
