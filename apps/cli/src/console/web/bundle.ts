/**
 * Bun macro (imported `with { type: "macro" }`): compiles the browser script at bundle time, so the
 * compiled `asterism` binary embeds the minified JavaScript and needs no source files at run time.
 * Bun.build cannot run inside a macro (the bundler would wait on itself), hence the `bun build` process.
 */
export function bundleBrowserScript(relativePath: string): string {
  const entry = new URL(relativePath, import.meta.url).pathname;
  const r = Bun.spawnSync(
    [process.execPath, "build", entry, "--minify", "--target=browser", "--format=esm"],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`bundling ${relativePath} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
