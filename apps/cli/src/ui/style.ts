import type { CliIo } from "../command.ts";

/** Text styles the CLI uses. Each is the identity function when colour is off. */
export interface Style {
  readonly enabled: boolean;
  readonly bold: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly green: (s: string) => string;
  readonly red: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly cyan: (s: string) => string;
}

/**
 * Colour only on a terminal, never with NO_COLOR set (any value, https://no-color.org) or TERM=dumb, so
 * piped output and logs stay plain text.
 */
export function colourEnabled(io: CliIo): boolean {
  return io.isTTY && io.env["NO_COLOR"] === undefined && io.env["TERM"] !== "dumb";
}

const sgr = (on: number, off: number) => (s: string) => `\x1b[${on}m${s}\x1b[${off}m`;
const plain = (s: string) => s;

/** The styles for this I/O. */
export function createStyle(io: CliIo): Style {
  const on = colourEnabled(io);
  return {
    enabled: on,
    bold: on ? sgr(1, 22) : plain,
    dim: on ? sgr(2, 22) : plain,
    green: on ? sgr(32, 39) : plain,
    red: on ? sgr(31, 39) : plain,
    yellow: on ? sgr(33, 39) : plain,
    cyan: on ? sgr(36, 39) : plain,
  };
}
