import type { Command, CommandGroup, OptionSpec } from "./command.ts";

/** Options every command accepts; the runner handles them. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: "help", short: "h", type: "boolean", description: "Show this help" },
  {
    name: "output",
    short: "o",
    type: "string",
    value: "text|json",
    description: "Output format (default text)",
  },
  { name: "json", type: "boolean", description: "Same as --output json" },
];

function optionLine(o: OptionSpec): string {
  const flag = `${o.short ? `-${o.short}, ` : "    "}--${o.name}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
  return `  ${flag.padEnd(34)} ${o.description}${o.required ? " (required)" : ""}`;
}

/** Help text of a leaf command: usage, description, options, examples. */
export function commandHelp(path: readonly string[], c: Command): string {
  const lines = [
    `Usage: ${path.join(" ")}${c.options.length ? " [options]" : ""}${c.args ? ` ${c.args}` : ""}`,
    "",
    c.summary,
  ];
  if (c.description) lines.push("", c.description);
  lines.push("", "Options:", ...[...c.options, ...COMMON_OPTIONS].map(optionLine));
  if (c.examples.length) lines.push("", "Examples:", ...c.examples.map((e) => `  ${e}`));
  lines.push("", "Exit codes: 0 ok/valid, 1 invalid, 2 usage or unreadable input, 3 failed");
  return `${lines.join("\n")}\n`;
}

/** Help text of a group: its commands with one-line summaries. */
export function groupHelp(path: readonly string[], g: CommandGroup): string {
  const width = Math.max(...g.children.map((c) => c.name.length), 8) + 2;
  const lines = [
    `Usage: ${path.join(" ")} <command> [options]`,
    "",
    g.summary,
    "",
    "Commands:",
    ...g.children.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`),
    "",
    `Run '${path.join(" ")} <command> --help' for a command's options and examples.`,
  ];
  return `${lines.join("\n")}\n`;
}
