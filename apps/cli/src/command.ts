/**
 * The CLI's command model. Every command is a plain object (name, options, examples, run) so `--help`,
 * parsing and dispatch come from one table, the way field tables drive our binary codecs.
 */

/** One option of a command. Values are strings or booleans; commands convert and validate them. */
export interface OptionSpec {
  readonly name: string;
  readonly type: "string" | "boolean";
  readonly description: string;
  readonly short?: string;
  /** Placeholder shown in help, e.g. `FILE`. */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly required?: boolean;
}

/** Where a command writes, and what it knows about the terminal. Injected so tests capture output. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stdout is a terminal: enables colour and spinners. */
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /**
   * Aborted when a long-running command (a local server such as `asterism console`) should stop. Tests
   * pass their own; without one, such commands stop on SIGINT/SIGTERM.
   */
  readonly signal?: AbortSignal;
}

/** Everything a command's `run` receives. */
export interface CommandContext {
  readonly io: CliIo;
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
  /** `--output json` (or the `--json` shorthand). */
  readonly json: boolean;
}

/** A leaf command. `run` returns the process exit code (see {@link ExitCode}). */
export interface Command {
  readonly kind: "command";
  readonly name: string;
  readonly summary: string;
  /** Positional arguments, for the usage line, e.g. `<provider>`. */
  readonly args?: string;
  readonly description?: string;
  readonly options: readonly OptionSpec[];
  readonly examples: readonly string[];
  run(ctx: CommandContext): Promise<number>;
}

/** A named group of commands (`asterism attestation …`). */
export interface CommandGroup {
  readonly kind: "group";
  readonly name: string;
  readonly summary: string;
  readonly children: readonly (Command | CommandGroup)[];
}

/**
 * Exit codes, the same for every command (docs/cli.md):
 * 0 success / valid, 1 verification failed / invalid evidence, 2 usage error or unreadable input,
 * 3 the operation failed for another reason (a service unreachable, a local process failed).
 */
export const ExitCode = { OK: 0, INVALID: 1, USAGE: 2, FAILED: 3 } as const;

/** Define a command with the shared options (`--help`, `--output`) added by the runner. */
export function defineCommand(c: Omit<Command, "kind">): Command {
  return { kind: "command", ...c };
}

/** Define a group of commands. */
export function defineGroup(
  name: string,
  summary: string,
  children: readonly (Command | CommandGroup)[],
): CommandGroup {
  return { kind: "group", name, summary, children };
}
