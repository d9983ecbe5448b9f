import { TdxParseError } from "./errors.ts";

/** Bound on a PCS JSON document (TCB info with many levels is ~10 KiB). */
export const MAX_PCS_JSON_SIZE = 1024 * 1024;
/** Nesting bound while scanning PCS JSON (real documents nest 5 deep). */
const MAX_DEPTH = 32;

/**
 * The exact source text of each top-level member of a JSON object, by key. Intel signs the bytes of the
 * `"tcbInfo"` / `"enclaveIdentity"` member value as served, so the signature must be checked over that
 * text, never over a re-serialization. Duplicate top-level keys are rejected: with duplicates, the member
 * we verify and the one `JSON.parse` keeps could differ.
 */
export function topLevelMembers(text: string, what: string): Map<string, string> {
  const bad = (why: string): never => {
    throw new TdxParseError("COLLATERAL_MALFORMED", `Cannot parse ${what}: ${why}`);
  };
  if (text.length > MAX_PCS_JSON_SIZE) bad(`larger than ${MAX_PCS_JSON_SIZE} characters`);
  try {
    JSON.parse(text);
  } catch {
    bad("not JSON");
  }
  // From here on `text` is known to be valid JSON, so the scanner only has to find boundaries.
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i] as string)) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (depth: number): void => {
    if (depth > MAX_DEPTH) bad(`nested deeper than ${MAX_DEPTH}`);
    const c = text[i];
    if (c === '"') {
      str();
      return;
    }
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (c === "{") {
          str();
          ws();
          i++; // ':'
          ws();
        }
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        i++; // close
        return;
      }
    }
    while (i < text.length && !",}] \t\r\n".includes(text[i] as string)) i++;
  };
  ws();
  if (text[i] !== "{") bad("not a JSON object");
  i++;
  const out = new Map<string, string>();
  ws();
  if (text[i] === "}") return out;
  for (;;) {
    ws();
    const key = str();
    ws();
    i++; // ':'
    ws();
    const start = i;
    value(1);
    if (out.has(key)) bad(`duplicate member "${key}"`);
    out.set(key, text.slice(start, i));
    ws();
    if (text[i] === ",") {
      i++;
      continue;
    }
    return out;
  }
}
