/**
 * Smoke test of the compiled executables: every app in apps/ has one in dist/ (built by scripts/build.ts,
 * which the test command runs first), and each answers --version and --help from an empty directory,
 * proving the binaries are self-contained.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "@asterism/testing";

const apps = readdirSync(join(repoRoot, "apps")).filter((a) =>
  existsSync(join(repoRoot, "apps", a, "src", "main.ts")),
);
const binary = (app: string) => join(repoRoot, "dist", app === "cli" ? "asterism" : app);

describe("compiled binaries", () => {
  const empty = mkdtempSync(join(tmpdir(), "asterism-smoke-"));

  test("there is one app at least, and a binary for each", () => {
    expect(apps.length).toBeGreaterThan(0);
    for (const app of apps)
      expect(existsSync(binary(app)), `dist binary for ${app} (run bun scripts/build.ts)`).toBe(true);
  });

  test.each(apps)("%s answers --version and --help", (app) => {
    for (const flag of ["--version", "--help"]) {
      const p = Bun.spawnSync([binary(app), flag], { cwd: empty, env: { PATH: "/usr/bin:/bin" } });
      expect(p.exitCode, `${app} ${flag}: ${p.stderr.toString()}`).toBe(0);
      expect(p.stdout.toString().length).toBeGreaterThan(0);
    }
  });

  test("the CLI refuses unknown commands with exit 2", () => {
    const p = Bun.spawnSync([binary("cli"), "no-such-command"], { cwd: empty });
    expect(p.exitCode).toBe(2);
    rmSync(empty, { recursive: true, force: true });
  });
});
