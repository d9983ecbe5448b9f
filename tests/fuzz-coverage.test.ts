/**
 * The fuzz campaign cannot silently shrink: every exported parser/verifier/validator of every shared
 * module is exercised by name in some `*.fuzz.test.ts` (or listed below with the reason it needs none),
 * every app with an HTTP API has an `app.fuzz.test.ts` driving `app.request()`, and `bun run fuzz` runs
 * exactly the repository's fuzz files.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "@asterism/testing";
import { fuzzFiles } from "../scripts/fuzz.ts";

/** Exported functions that take untrusted input by their name (house style §24 verbs). */
const PARSER_NAME = /^(parse|decode|verify|validate|unmarshal|from)[A-Z0-9]/;

/** Module → export → why no fuzz property names it. Keep short; every entry is a decision. */
const EXEMPT: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  bytes: {
    fromUtf8: "WHATWG TextDecoder in replacement mode: total, cannot throw, decides nothing",
  },
};
/** Modules that are not shipped (test helpers). */
const NOT_SHIPPED = new Set(["testing"]);

function exportedFunctions(indexTs: string): string[] {
  const names: string[] = [];
  for (const block of indexTs.matchAll(/export\s*\{([^}]*)\}\s*from/g)) {
    for (const raw of (block[1] ?? "").split(",")) {
      const item = raw.trim();
      if (item === "" || item.startsWith("type ")) continue;
      const name =
        item
          .split(/\s+as\s+/)
          .pop()
          ?.trim() ?? "";
      if (PARSER_NAME.test(name)) names.push(name);
    }
  }
  return names;
}

const root = repoRoot;
const files = fuzzFiles();
const corpus = files.map((f) => readFileSync(join(root, f), "utf8")).join("\n");
const modules = readdirSync(join(root, "shared")).filter(
  (m) => existsSync(join(root, "shared", m, "index.ts")) && !NOT_SHIPPED.has(m),
);

describe("every parser of untrusted input has a fuzz property", () => {
  test.each(modules)("@asterism/%s", (m) => {
    const exported = exportedFunctions(readFileSync(join(root, "shared", m, "index.ts"), "utf8"));
    const missing = exported.filter(
      (name) => EXEMPT[m]?.[name] === undefined && !new RegExp(`\\b${name}\\b`).test(corpus),
    );
    expect(missing).toEqual([]);
  });

  test("exemptions name real exports (no stale entries)", () => {
    for (const [m, names] of Object.entries(EXEMPT)) {
      const exported = exportedFunctions(readFileSync(join(root, "shared", m, "index.ts"), "utf8"));
      for (const name of Object.keys(names)) expect(exported).toContain(name);
    }
  });
});

describe("every app's HTTP API is fuzzed through app.request()", () => {
  const apps = readdirSync(join(root, "apps")).filter((a) =>
    existsSync(join(root, "apps", a, "src", "app.ts")),
  );
  test.each(apps.length > 0 ? apps : ["(none yet)"])("%s", (a) => {
    if (a === "(none yet)") return;
    const fuzz = files.filter((f) => f.startsWith(`apps/${a}/`));
    expect(fuzz.length).toBeGreaterThan(0);
    const text = fuzz.map((f) => readFileSync(join(root, f), "utf8")).join("\n");
    expect(text).toMatch(/\.request\(/);
  });
});

describe("bun run fuzz", () => {
  test("runs scripts/fuzz.ts", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts["fuzz"]).toBe("bun scripts/fuzz.ts");
  });

  test("selects exactly the tracked *.fuzz.test.ts files", () => {
    const git = Bun.spawnSync(
      ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.fuzz.test.ts"],
      {
        cwd: root,
      },
    );
    const tracked = git.stdout
      .toString()
      .trim()
      .split("\n")
      .filter((l) => l !== "")
      .sort();
    expect(files).toEqual(tracked);
    expect(files.length).toBeGreaterThan(20);
  });
});
