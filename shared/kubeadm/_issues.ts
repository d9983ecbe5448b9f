import type * as v from "valibot";

/**
 * A description of the first valibot issue that never contains the offending input. valibot's default
 * messages quote the received value ("… but received "abcdef.0123…"") and these inputs can carry bootstrap
 * tokens; `expected` only describes the rule. Our own `check`/`regex` messages (written without the value)
 * are used where valibot has no `expected`.
 */
export function describeIssue(issues: readonly v.BaseIssue<unknown>[]): { path: string; rule: string } {
  const issue = issues[0];
  const path = issue?.path?.map((p) => String(p.key)).join(".") || "(root)";
  const rule = issue?.expected ?? (issue?.type === "check" ? issue.message : undefined) ?? "a valid value";
  return { path, rule };
}
