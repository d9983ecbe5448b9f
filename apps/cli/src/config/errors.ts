import { AsterismError } from "@asterism/errors";

/** Codes of configuration problems. */
export type ConfigErrorCode =
  /** The file does not exist or cannot be read. */
  | "CONFIG_UNREADABLE"
  /** Not YAML, or YAML with errors (duplicate keys, bad indentation). */
  | "CONFIG_SYNTAX"
  /** Well-formed YAML that breaks the schema; `issues` lists every problem with its position. */
  | "CONFIG_INVALID"
  /** The file would be overwritten (`config generate` without --force). */
  | "CONFIG_EXISTS";

/** One problem, pointing at a line and column of the file (1-based). */
export interface ConfigIssue {
  readonly line: number;
  readonly col: number;
  /** Dot path of the field, e.g. `attestation.measurements.15.expected`; empty for the document. */
  readonly path: string;
  readonly message: string;
}

/** A configuration problem. `issues` holds one entry per problem, in file order. */
export class ConfigError extends AsterismError<ConfigErrorCode> {
  override readonly domain = "config";
  readonly issues: readonly ConfigIssue[];
  readonly file: string;

  constructor(
    code: ConfigErrorCode,
    file: string,
    issues: readonly ConfigIssue[],
    detail: { expected?: string; actual?: string; cause?: unknown; action?: string } = {},
  ) {
    super(code, detail.action ?? `Invalid configuration ${file}`, {
      ...detail,
      ...(issues.length ? { actual: issues.map((i) => formatIssue(file, i)).join("; ") } : {}),
    });
    this.issues = issues;
    this.file = file;
  }

  /** Every issue as `file:line:col: path: message`, one per line. */
  lines(): string[] {
    return this.issues.map((i) => formatIssue(this.file, i));
  }

  override toJSON() {
    return { ...super.toJSON(), file: this.file, issues: this.issues };
  }
}

/** `config.yaml:12:5: attestation.measurements.15.expected: expected 64 hex characters, got 63` */
export function formatIssue(file: string, i: ConfigIssue): string {
  return `${file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ""}${i.message}`;
}
