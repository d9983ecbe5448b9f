import type { CliIo } from "../command.ts";
import { createStyle } from "./style.ts";

/** Reports progress of long-running steps. Everything goes to stderr, so stdout stays machine-readable. */
export interface Progress {
  /** Run `fn` as a named step: a spinner while it runs on a terminal, one line when it ends. */
  step<T>(label: string, fn: () => Promise<T>, detail?: (result: T) => string | undefined): Promise<T>;
  /** A plain informational line. */
  info(line: string): void;
  /** A warning line. */
  warn(line: string): void;
}

/** Spinner frame interval: fast enough to look alive, slow enough to cost nothing. */
const FRAME_MS = 80;
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Progress for this I/O: on a terminal a spinner redrawn in place (`\r` + erase line); otherwise one
 * plain line per finished step (`ok   label (1.2 s)` / `FAIL label`), which reads well in CI logs.
 * `quiet` prints nothing (for `--output json`, where stderr may still be shown to a human but the
 * steps add nothing to the JSON result).
 */
export function createProgress(io: CliIo, opts: { quiet?: boolean; now?: () => number } = {}): Progress {
  const now = opts.now ?? (() => performance.now());
  const s = createStyle(io);
  const write = (line: string) => {
    if (!opts.quiet) io.stderr(line);
  };
  const spin = io.isTTY && !opts.quiet;
  return {
    async step(label, fn, detail) {
      const t0 = now();
      let frame = 0;
      const timer = spin
        ? setInterval(() => {
            frame = (frame + 1) % FRAMES.length;
            io.stderr(`\r\x1b[K${s.cyan(FRAMES[frame] as string)} ${label} ${s.dim(seconds(now() - t0))}`);
          }, FRAME_MS)
        : undefined;
      if (spin) io.stderr(`${s.cyan(FRAMES[0] as string)} ${label}`);
      try {
        const result = await fn();
        const extra = detail?.(result);
        const tail = `${extra ? `: ${extra}` : ""} ${s.dim(`(${seconds(now() - t0)})`)}`;
        write(`${spin ? "\r\x1b[K" : ""}${s.green(spin ? "✓" : "ok  ")} ${label}${tail}\n`);
        return result;
      } catch (err) {
        write(
          `${spin ? "\r\x1b[K" : ""}${s.red(spin ? "✗" : "FAIL")} ${label} ${s.dim(`(${seconds(now() - t0)})`)}\n`,
        );
        throw err;
      } finally {
        if (timer) clearInterval(timer);
      }
    },
    info(line) {
      write(`${line}\n`);
    },
    warn(line) {
      write(`${s.yellow("warning:")} ${line}\n`);
    },
  };
}
