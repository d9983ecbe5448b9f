/** Description of a service binary for its `--help`. */
export interface ServiceInfo {
  readonly name: string;
  readonly summary: string;
  /** Environment variables the service reads, with what each means. */
  readonly env: Readonly<Record<string, string>>;
}

declare const ASTERISM_VERSION: string | undefined;
const VERSION: string = typeof ASTERISM_VERSION === "string" ? ASTERISM_VERSION : "0.1.0-dev";

/**
 * Handle `--version` and `--help` for a service binary. Returns the exit code when the process should
 * stop, or undefined to go on starting the service. Unknown flags are refused: a typo must not start a
 * service with defaults the operator did not mean.
 */
export function handleServiceFlags(
  info: ServiceInfo,
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): number | undefined {
  if (argv.includes("--version")) {
    out(`${info.name} ${VERSION}\n`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    const width = Math.max(...Object.keys(info.env).map((k) => k.length), 4) + 2;
    out(
      [
        `Usage: ${info.name} [--help] [--version]`,
        "",
        info.summary,
        "",
        "Configuration (environment):",
        ...Object.entries(info.env).map(([k, v]) => `  ${k.padEnd(width)} ${v}`),
        "",
      ].join("\n"),
    );
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`${info.name}: unknown argument '${argv[0]}' (see --help)\n`);
    return 2;
  }
  return undefined;
}
