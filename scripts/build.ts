#!/usr/bin/env bun
/**
 * Compile every app in apps/ (each `apps/<name>/src/main.ts`) into one self-contained executable in
 * dist/: `asterism` for the CLI, `<name>` for the services. Offline: Bun embeds its runtime.
 *
 * Usage: bun scripts/build.ts [app …]   (default: all apps)
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const dist = join(root, "dist");
mkdirSync(dist, { recursive: true });

const pkg = (await Bun.file(join(root, "package.json")).json()) as { version: string };
const rev = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root }).stdout.toString().trim();
const version = rev ? `${pkg.version}+${rev}` : pkg.version;

/** The executable name of an app: the CLI is `asterism`, services keep their folder name. */
export function binaryName(app: string): string {
  return app === "cli" ? "asterism" : app;
}

const wanted = process.argv.slice(2);
const apps = readdirSync(join(root, "apps"))
  .filter((a) => existsSync(join(root, "apps", a, "src", "main.ts")))
  .filter((a) => wanted.length === 0 || wanted.includes(a))
  .sort();

// The bootstrapper embeds the rendered k8s/ overlays (it applies them at init): render them fresh.
if (apps.includes("bootstrapper")) {
  const embed = Bun.spawnSync(["bun", join("k8s", "render", "embed.ts")], { cwd: root, stderr: "pipe" });
  if (embed.exitCode !== 0) {
    process.stderr.write(`render k8s/ manifests: FAILED\n${embed.stderr.toString()}\n`);
    process.exit(1);
  }
}

let failed = 0;
for (const app of apps) {
  const out = join(dist, binaryName(app));
  const t0 = performance.now();
  const proc = Bun.spawnSync(
    [
      "bun",
      "build",
      "--compile",
      "--minify",
      "--sourcemap",
      "--define",
      `ASTERISM_VERSION=${JSON.stringify(version)}`,
      join("apps", app, "src", "main.ts"),
      "--outfile",
      out,
    ],
    { cwd: root, stdout: "pipe", stderr: "pipe" },
  );
  const ms = Math.round(performance.now() - t0);
  if (proc.exitCode !== 0) {
    failed++;
    process.stderr.write(`build ${app}: FAILED\n${proc.stdout.toString()}${proc.stderr.toString()}\n`);
  } else {
    process.stdout.write(`built dist/${binaryName(app)} (${ms} ms)\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
