/**
 * docs/security.md cannot rot: every test it cites (`file › "name"`) must exist — the file, and the name
 * as a string literal in it (a `test("…")` title or a table case `name: "…"`). `bun
 * scripts/security-tests.ts` goes further and runs the cited files, requiring each cited test to pass.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@asterism/testing";
import { securityCitations } from "../scripts/security-tests.ts";

const doc = readFileSync(join(repoRoot, "docs", "security.md"), "utf8");
const citations = securityCitations(doc);

describe("docs/security.md citations", () => {
  test("the document cites tests for every adversary", () => {
    expect(citations.length).toBeGreaterThan(40);
    for (const h of [
      "## A network attacker",
      "## The cloud's control plane",
      "## A compromised node",
      "## A Kubernetes administrator",
    ])
      expect(doc).toContain(h);
  });

  test.each(citations.map((c) => ({ ...c, label: `${c.file} › ${c.name}` })))("$label", ({ file, name }) => {
    const path = join(repoRoot, file);
    expect(existsSync(path)).toBe(true);
    const source = readFileSync(path, "utf8");
    expect(source.includes(JSON.stringify(name)) || source.includes(`"${name}"`)).toBe(true);
  });
});
