/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Structured fields of one log line. Values must never be secrets: keys are not logged, only ids. */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** The logger every service receives through its deps. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are dropped whatever a caller passes: a second line of defence against leaks. */
const REDACTED = /secret|password|passphrase|token|key$|^key|privat/i;

/**
 * A JSON-lines logger (one object per line, `time`, `level`, `msg`, fields). Fields whose names look like
 * secrets are replaced by `"[redacted]"`.
 */
export function createJsonLogger(
  opts: { write?: (line: string) => void; level?: LogLevel; now?: () => Date; base?: LogFields } = {},
): Logger {
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const min = ORDER[opts.level ?? "info"];
  const now = opts.now ?? (() => new Date());
  const make = (base: LogFields): Logger => ({
    log(level, msg, fields = {}) {
      if (ORDER[level] < min) return;
      const out: Record<string, unknown> = { time: now().toISOString(), level, msg };
      for (const [k, v] of Object.entries({ ...base, ...fields }))
        out[k] = REDACTED.test(k) ? "[redacted]" : v;
      write(`${JSON.stringify(out)}\n`);
    },
    child: (fields) => make({ ...base, ...fields }),
  });
  return make(opts.base ?? {});
}

/** A logger that keeps lines in memory, for tests that assert what was (and was not) logged. */
export function createMemoryLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createJsonLogger({ write: (l) => void lines.push(JSON.parse(l)), level: "debug" });
  return Object.assign(logger, { lines });
}
