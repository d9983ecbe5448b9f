/**
 * Reading the configuration: YAML (with positions) → plain value → valibot schema → cross-field rules.
 * Every problem is reported with the line and column of the offending node, so an operator can jump
 * straight to it: `asterism-conf.yaml:12:5: attestation.measurements.15.expected: expected 64 hex
 * characters, got 63`.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { isVariant, VARIANTS } from "@asterism/attestation";
import * as v from "valibot";
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type ParsedNode,
  parseDocument,
  visit,
} from "yaml";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { type Config, ConfigSchema, configProvider, PROVIDER_VARIANTS } from "./schema.ts";

/** A configuration file is a few KiB; refuse to parse anything absurd. */
export const MAX_CONFIG_BYTES = 256 * 1024;

type Path = readonly (string | number)[];

/** Where a path points in the document: the value node, or the key (for unknown keys), or the nearest parent. */
function locate(doc: Document, path: Path, lc: LineCounter, onKey: boolean): { line: number; col: number } {
  let node: unknown = doc.contents;
  let offset = (doc.contents as ParsedNode | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const last = i === path.length - 1;
      if (last && onKey && isScalar(pair.key) && pair.key.range) {
        offset = pair.key.range[0];
        node = undefined;
        break;
      }
      node = pair.value;
      const r = (pair.value as ParsedNode | null)?.range ?? (pair.key as ParsedNode | null)?.range;
      if (r) offset = r[0];
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (!item) break;
      node = item;
      const r = (item as ParsedNode).range;
      if (r) offset = r[0];
    } else break;
  }
  const pos = lc.linePos(offset);
  return { line: pos.line, col: pos.col };
}

function issuePath(issue: v.BaseIssue<unknown>): (string | number)[] {
  return (issue.path ?? []).map((p) => (typeof p.key === "number" ? p.key : String(p.key)));
}

/** Turn valibot's wording into what an operator wants to read. */
function issueMessage(issue: v.BaseIssue<unknown>): { message: string; onKey: boolean } {
  if (issue.type === "strict_object" && issue.expected === "never") {
    return { message: `unknown field ${issue.received}`, onKey: true };
  }
  if (issue.type === "union" && issue.issues?.length) {
    // "expected (string | Array)" helps nobody; the first alternative's complaint is what went wrong.
    return issueMessage(issue.issues[0] as v.BaseIssue<unknown>);
  }
  if (issue.kind === "schema" && issue.received === "undefined") {
    return { message: `missing (expected ${issue.expected})`, onKey: false };
  }
  if (issue.type === "picklist" || issue.type === "literal") {
    return { message: issue.message.replace(/^Invalid type: /, ""), onKey: false };
  }
  if (issue.kind === "schema") {
    return { message: `expected ${issue.expected}, got ${issue.received}`, onKey: false };
  }
  return { message: issue.message, onKey: false };
}

/**
 * YAML 1.2 reads a plain scalar of digits as a number, which would turn an unquoted hex measurement
 * such as `0000…` into 0. Long digit runs are never meaningful numbers in this file, so keep their source
 * text as a string.
 */
function keepLongDigitStrings(doc: Document): void {
  visit(doc, {
    Scalar(_key, node) {
      if (
        typeof node.value === "number" &&
        typeof node.source === "string" &&
        /^[0-9a-fA-F]{16,}$/.test(node.source)
      )
        node.value = node.source;
    },
  });
}

/**
 * Measurement lengths depend on the variant (64 hex characters for TPM PCRs, 96 for TDX registers).
 * Checked on the raw value, so they are reported together with schema issues elsewhere in the file.
 */
function measurementLengthIssues(raw: unknown): { path: Path; message: string }[] {
  const att = (raw as { attestation?: { variant?: unknown; measurements?: unknown } } | null)?.attestation;
  const variant = typeof att?.variant === "string" && isVariant(att.variant) ? att.variant : "qemu-vtpm";
  const hexLen = VARIANTS[variant].measurementBytes * 2;
  const m = att?.measurements;
  if (m === null || typeof m !== "object" || Array.isArray(m)) return [];
  const out: { path: Path; message: string }[] = [];
  for (const [index, entry] of Object.entries(m)) {
    const expected = (entry as { expected?: unknown } | null)?.expected;
    if (typeof expected === "string" && expected.length > 0 && expected.length !== hexLen) {
      out.push({
        path: ["attestation", "measurements", index, "expected"],
        message: `expected ${hexLen} hex characters, got ${expected.length}`,
      });
    }
  }
  return out;
}

/** Rules across fields that the schema cannot express. Positions come from the same document. */
function crossChecks(c: Config): { path: Path; message: string }[] {
  const out: { path: Path; message: string }[] = [];
  const provider = configProvider(c);
  const variant = c.attestation.variant;
  if (!PROVIDER_VARIANTS[provider].includes(variant)) {
    out.push({
      path: ["attestation", "variant"],
      message: `${variant} does not run on ${provider}; expected one of ${PROVIDER_VARIANTS[provider].join(", ")}`,
    });
  }
  const isSnp = variant.endsWith("-sev-snp");
  const isTdx = variant.endsWith("-tdx");
  if (isSnp && c.attestation.snp === undefined)
    out.push({ path: ["attestation", "snp"], message: `missing: ${variant} needs an SNP policy block` });
  if (!isSnp && c.attestation.snp !== undefined)
    out.push({ path: ["attestation", "snp"], message: `not used by ${variant}; remove it` });
  if (isTdx && c.attestation.tdx === undefined)
    out.push({ path: ["attestation", "tdx"], message: `missing: ${variant} needs a TDX policy block` });
  if (!isTdx && c.attestation.tdx !== undefined)
    out.push({ path: ["attestation", "tdx"], message: `not used by ${variant}; remove it` });
  if (c.nodeGroups.controlPlane.initialCount < 1)
    out.push({
      path: ["nodeGroups", "controlPlane", "initialCount"],
      message: "expected at least 1 control-plane node",
    });
  return out;
}

/**
 * Parse and validate configuration text. `file` is the name used in messages. Throws {@link ConfigError}
 * with every issue (CONFIG_SYNTAX or CONFIG_INVALID).
 */
export function parseConfig(text: string, file = "asterism-conf.yaml"): Config {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError("CONFIG_INVALID", file, [], {
      expected: `at most ${MAX_CONFIG_BYTES} bytes`,
      actual: `${text.length} bytes`,
    });
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lc,
    uniqueKeys: true,
    prettyErrors: false,
    logLevel: "silent",
  });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length) {
    const issues = problems.map((e) => {
      const pos = lc.linePos(e.pos[0]);
      return { line: pos.line, col: pos.col, path: "", message: e.message.split("\n")[0] ?? e.code };
    });
    throw new ConfigError("CONFIG_SYNTAX", file, issues);
  }
  keepLongDigitStrings(doc);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 0 });
  } catch (cause) {
    throw new ConfigError(
      "CONFIG_SYNTAX",
      file,
      [{ line: 1, col: 1, path: "", message: "aliases are not allowed" }],
      {
        cause,
      },
    );
  }
  const at = (path: Path, message: string, onKey = false): ConfigIssue => ({
    ...locate(doc, path, lc, onKey),
    path: path.join("."),
    message,
  });
  const r = v.safeParse(ConfigSchema, value);
  const lengths = measurementLengthIssues(value).map((c) => at(c.path, c.message));
  if (!r.success || lengths.length) {
    const issues = (r.issues ?? []).map((i) => {
      const { message, onKey } = issueMessage(i);
      // Unknown keys and bad record keys are pointed at the key itself, not its value.
      const keyIssue = i.path?.[i.path.length - 1]?.origin === "key";
      return at(issuePath(i), message, onKey || keyIssue);
    });
    const seen = new Set(lengths.map((i) => i.path));
    throw new ConfigError(
      "CONFIG_INVALID",
      file,
      sortIssues([...lengths, ...issues.filter((i) => !seen.has(i.path))]),
    );
  }
  const cross = crossChecks(r.output);
  if (cross.length)
    throw new ConfigError("CONFIG_INVALID", file, sortIssues(cross.map((c) => at(c.path, c.message))));
  return r.output;
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return [...issues].sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Read and validate a configuration file. */
export function loadConfig(path: string): Config {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > MAX_CONFIG_BYTES) {
      throw new ConfigError("CONFIG_INVALID", basename(path), [], {
        expected: `at most ${MAX_CONFIG_BYTES} bytes`,
        actual: `${bytes.length} bytes`,
      });
    }
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (cause) {
    if (cause instanceof ConfigError) throw cause;
    throw new ConfigError("CONFIG_UNREADABLE", path, [], {
      expected: "a readable UTF-8 file (create one with `asterism config generate`)",
      actual: cause instanceof Error ? cause.message : String(cause),
      cause,
    });
  }
  return parseConfig(text, path);
}
