import { parseArgs } from "node:util";
import { describeError, isAsterismError } from "@asterism/errors";
import { ClusterError } from "./cluster/errors.ts";
import { mismatchesOf, pcrName } from "./cluster/verify-client.ts";
import { type CliIo, type Command, type CommandGroup, ExitCode } from "./command.ts";
import { ConfigError } from "./config/errors.ts";
import { COMMON_OPTIONS, commandHelp, groupHelp } from "./help.ts";
import { MiniError } from "./mini/errors.ts";
import { UsageError } from "./usage-error.ts";
import { VERSION } from "./version.ts";
import { WorkspaceError } from "./workspace/errors.ts";

type Node = Command | CommandGroup;

/** Walk the command tree along the leading words of `argv`; stop at the first leaf or option. */
function resolve(
  root: CommandGroup,
  argv: readonly string[],
): { node: Node; path: string[]; rest: string[] } {
  let node: Node = root;
  const path = [root.name];
  let i = 0;
  while (node.kind === "group" && i < argv.length) {
    const word = argv[i] as string;
    if (word.startsWith("-")) break;
    const next: Node | undefined = node.children.find((c) => c.name === word);
    if (!next) {
      throw new UsageError("UNKNOWN_COMMAND", `Unknown command '${[...path, word].join(" ")}'`, {
        expected: `one of ${node.children.map((c) => c.name).join(", ")}`,
        actual: word,
      });
    }
    node = next;
    path.push(word);
    i++;
  }
  return { node, path, rest: argv.slice(i) };
}

function wantsJson(argv: readonly string[]): boolean {
  return (
    argv.includes("--json") ||
    argv.some((a, i) => (a === "--output" || a === "-o") && argv[i + 1] === "json") ||
    argv.includes("--output=json")
  );
}

/**
 * Problems the operator fixes by changing input rather than retrying: a missing or unreadable config,
 * a file the command refuses to overwrite, a missing state file. Exit 2 like usage errors.
 */
function isOperatorInputError(err: unknown): err is ConfigError | WorkspaceError | ClusterError | MiniError {
  if (err instanceof ConfigError) return true;
  if (err instanceof MiniError)
    return [
      "ALREADY_RUNNING",
      "NOT_RUNNING",
      "CONFIG_UNSUPPORTED",
      "HOST_UNSUPPORTED",
      "IMAGE_INVALID",
    ].includes(err.code);
  if (err instanceof ClusterError) return err.code === "NO_ENDPOINT" || err.code === "NO_CLUSTER_ID";
  return (
    err instanceof WorkspaceError &&
    (err.code === "FILE_EXISTS" ||
      err.code === "MASTER_SECRET_EXISTS" ||
      err.code === "STATE_INVALID" ||
      err.code === "BOOT_COMPONENT_UNREADABLE")
  );
}

/**
 * Run the CLI: resolve the command, parse its options strictly, run it and map failures to exit codes.
 * Never throws; never prints a stack trace.
 */
export async function runCli(root: CommandGroup, argv: readonly string[], io: CliIo): Promise<number> {
  const json = wantsJson(argv);
  try {
    if (argv[0] === "--version" || argv[0] === "-v") {
      io.stdout(`${VERSION}\n`);
      return ExitCode.OK;
    }
    const { node, path, rest } = resolve(root, argv);
    if (node.kind === "group") {
      const help = rest.includes("--help") || rest.includes("-h") || rest.length === 0;
      if (!help)
        throw new UsageError("BAD_OPTION", `Unexpected '${rest[0]}' after '${path.join(" ")}'`, {
          expected: "a command",
        });
      io.stdout(groupHelp(path, node));
      return rest.length === 0 && path.length > 1 ? ExitCode.USAGE : ExitCode.OK;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
      io.stdout(commandHelp(path, node));
      return ExitCode.OK;
    }
    const specs = [...node.options, ...COMMON_OPTIONS];
    const options = Object.fromEntries(
      specs.map((o) => [
        o.name,
        { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
      ]),
    );
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError("BAD_OPTION", `Cannot parse options of '${path.join(" ")}'`, {
        actual: err instanceof Error ? err.message : String(err),
        expected: `see '${path.join(" ")} --help'`,
        cause: err,
      });
    }
    const output = parsed.values["output"];
    if (output !== undefined && output !== "json" && output !== "text") {
      throw new UsageError("BAD_VALUE", "Invalid --output", {
        expected: "text or json",
        actual: String(output),
      });
    }
    for (const o of node.options) {
      if (o.required && parsed.values[o.name] === undefined) {
        throw new UsageError("MISSING_OPTION", `Missing --${o.name} for '${path.join(" ")}'`, {
          expected: `--${o.name} ${o.value ?? ""}`.trim(),
        });
      }
    }
    return await node.run({
      io,
      values: parsed.values,
      positionals: parsed.positionals,
      json: json || output === "json",
    });
  } catch (err) {
    if (err instanceof ConfigError && (err.code === "CONFIG_INVALID" || err.code === "CONFIG_SYNTAX")) {
      // An invalid configuration is "invalid input" (exit 1), reported line by line.
      if (json) io.stdout(`${JSON.stringify({ ok: false, ...err.toJSON() })}\n`);
      else io.stderr(`${err.issues.length ? err.lines().join("\n") : `error: ${err.message}`}\n`);
      return ExitCode.INVALID;
    }
    if (isAsterismError(err) && err.code === "NOT_TRUSTED") {
      // A peer's attestation was refused (init, recover): invalid evidence, exit 1, failing PCRs named.
      const pcrs = mismatchesOf(err);
      if (json) io.stdout(`${JSON.stringify({ ok: false, ...err.toJSON(), mismatches: pcrs })}\n`);
      else {
        io.stderr(`error: ${describeError(err)}\n`);
        for (const m of pcrs)
          io.stderr(`  ${pcrName(m.index)}: expected ${m.expected}, got ${m.actual ?? "nothing"}\n`);
      }
      return ExitCode.INVALID;
    }
    if (err instanceof UsageError || isOperatorInputError(err)) {
      if (json) io.stdout(`${JSON.stringify({ ok: false, ...err.toJSON() })}\n`);
      else io.stderr(`error: ${err.message}\n`);
      return ExitCode.USAGE;
    }
    if (json)
      io.stdout(
        `${JSON.stringify({ ok: false, ...(isAsterismError(err) ? err.toJSON() : { code: "INTERNAL", message: describeError(err) }) })}\n`,
      );
    else io.stderr(`error: ${describeError(err)}\n`);
    return ExitCode.FAILED;
  }
}
