/**
 * Where the compiled service binaries are, and how the CLI re-runs itself (the metadata endpoint runs
 * as `asterism mini metadata-server` in its own process).
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { MiniError } from "./errors.ts";

/** The binaries the local cluster runs, by their file name in dist/. */
export const SERVICE_BINARIES = ["bootstrapper", "join-service", "verification-service", "kms"] as const;
export type ServiceBinary = (typeof SERVICE_BINARIES)[number];

/** True inside a `bun build --compile` executable (its entry lives in Bun's embedded file system). */
export function isCompiled(): boolean {
  return Bun.main.startsWith("/$bunfs/") || Bun.main.includes("~BUN");
}

/** The argv prefix that runs this CLI again: the executable, or `bun <main.ts>` from source. */
export function selfCommand(): string[] {
  return isCompiled() ? [process.execPath] : [process.execPath, Bun.main];
}

/** The repository checkout this CLI belongs to, if any (for building missing binaries). */
export function repoRoot(): string | undefined {
  const candidates = isCompiled()
    ? [resolve(dirname(process.execPath), "..")]
    : [resolve(import.meta.dir, "..", "..", "..", "..")];
  return candidates.find((d) => existsSync(join(d, "scripts", "build.ts")));
}

/** Default binary directory: beside the compiled CLI, or `<repo>/dist` from source. */
export function defaultBinDir(env: Readonly<Record<string, string | undefined>>): string {
  const fromEnv = env["ASTERISM_BIN_DIR"];
  if (fromEnv) return resolve(fromEnv);
  if (isCompiled()) return dirname(process.execPath);
  return join(repoRoot() ?? process.cwd(), "dist");
}

/**
 * The paths of the service binaries in `binDir`. Missing ones are built with `scripts/build.ts` when
 * this CLI runs from (or beside) a checkout; otherwise BINARY_MISSING says how to get them.
 */
export async function ensureBinaries(
  binDir: string,
  onBuild?: (missing: readonly string[]) => void,
): Promise<Record<ServiceBinary, string>> {
  const paths = Object.fromEntries(SERVICE_BINARIES.map((b) => [b, join(binDir, b)])) as Record<
    ServiceBinary,
    string
  >;
  const missing = SERVICE_BINARIES.filter((b) => !existsSync(paths[b]));
  if (missing.length === 0) return paths;
  const root = repoRoot();
  if (root === undefined || resolve(binDir) !== join(root, "dist")) {
    throw new MiniError("BINARY_MISSING", `Missing service binaries in ${binDir}`, {
      expected: SERVICE_BINARIES.join(", "),
      actual: `missing ${missing.join(", ")} (build them with \`bun scripts/build.ts\`)`,
    });
  }
  onBuild?.(missing);
  const proc = Bun.spawn(["bun", join(root, "scripts", "build.ts"), ...missing], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  const still = SERVICE_BINARIES.filter((b) => !existsSync(paths[b]));
  if (code !== 0 || still.length) {
    throw new MiniError("BINARY_MISSING", `Cannot build ${missing.join(", ")}`, {
      actual: err.trim().split("\n").slice(-3).join(" ") || `exit ${code}`,
    });
  }
  return paths;
}
