// Builds the Asterism service images without a container daemon: compiles each service with
// `bun build --compile`, assembles a reproducible OCI image (shared/oci-image) and writes OCI archives to
// dist/images/<service>.oci.tar. Usage:
//   bun image/build-containers.ts [--version v0.1.0] [--out dist/images] [--check-reproducible]
// Services whose apps/<name>/src/main.ts is not in this checkout are skipped (and reported).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildServiceImage, type LayerCache, ociArchive } from "@asterism/oci-image";

/** The images and the ports their manifests use (k8s/base). */
export const SERVICES: readonly { readonly name: string; readonly ports: readonly number[] }[] = [
  { name: "join-service", ports: [9090, 9091] },
  { name: "kms", ports: [9000, 9001] },
  { name: "verification-service", ports: [8080, 8081] },
];

const REPO = resolve(import.meta.dir, "..");

/**
 * `bun build --compile`, run from `cwd` with a repo-relative entry and an output file named after the
 * service. Bun embeds the entry's relative path and the output's base name in the executable, so both
 * are fixed here: then the executable is byte-identical across builds and checkouts (measured; see
 * k8s/README.md "Images").
 */
export function compileService(cwd: string, entry: string, name: string, version: string): Uint8Array {
  const outDir = mkdtempSync(join(tmpdir(), "asterism-compile-"));
  try {
    // Same flags as scripts/build.ts, so the image holds the binary the project ships.
    const flags = [
      "--compile",
      "--minify",
      "--sourcemap",
      "--define",
      `ASTERISM_VERSION=${JSON.stringify(version)}`,
    ];
    const p = Bun.spawnSync(["bun", "build", ...flags, entry, "--outfile", join(outDir, name)], {
      cwd,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 300_000,
    });
    if (p.exitCode !== 0) throw new Error(`bun build --compile ${entry} failed: ${p.stderr.toString()}`);
    return new Uint8Array(readFileSync(join(outDir, name)));
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

export interface BuiltArchive {
  readonly name: string;
  readonly digest: string;
  readonly archive: Uint8Array;
}

/**
 * Builds one image per given binary, concurrently (layers compress on zlib's thread pool); the shared
 * base layer is compressed once per call.
 */
export async function buildArchives(
  binaries: ReadonlyMap<string, Uint8Array>,
  options: { version: string; revision?: string },
): Promise<BuiltArchive[]> {
  const cache: LayerCache = new Map();
  const services = SERVICES.filter((s) => binaries.has(s.name));
  return Promise.all(
    services.map(async (s) => {
      const img = await buildServiceImage({
        name: s.name,
        binary: binaries.get(s.name) as Uint8Array,
        ports: s.ports,
        version: options.version,
        cache,
        ...(options.revision === undefined ? {} : { revision: options.revision }),
      });
      return { name: s.name, digest: img.digest, archive: ociArchive(img) };
    }),
  );
}

function gitRevision(): string | undefined {
  const p = Bun.spawnSync(["git", "rev-parse", "HEAD"], { cwd: REPO, stdout: "pipe", stderr: "ignore" });
  if (p.exitCode !== 0) return undefined;
  // An image built from uncommitted changes must not claim to be that commit.
  const dirty = Bun.spawnSync(["git", "status", "--porcelain"], {
    cwd: REPO,
    stdout: "pipe",
  }).stdout.toString();
  return `${p.stdout.toString().trim()}${dirty.trim() === "" ? "" : "-dirty"}`;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.main) {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
  const version = arg("--version") ?? `v${pkg.version}`;
  const out = resolve(arg("--out") ?? join(REPO, "dist", "images"));
  const revision = gitRevision();
  const binaries = new Map<string, Uint8Array>();
  for (const s of SERVICES) {
    const entry = `apps/${s.name}/src/main.ts`;
    if (!existsSync(join(REPO, entry))) {
      console.log(`skip ${s.name}: ${entry} is not in this checkout`);
      continue;
    }
    binaries.set(s.name, compileService(REPO, entry, s.name, version.replace(/^v/, "")));
  }
  const built = await buildArchives(binaries, { version, ...(revision === undefined ? {} : { revision }) });
  if (process.argv.includes("--check-reproducible")) {
    const again = await buildArchives(binaries, { version, ...(revision === undefined ? {} : { revision }) });
    for (const [i, b] of built.entries())
      if (again[i]?.digest !== b.digest) throw new Error(`${b.name}: second build gave another digest`);
  }
  mkdirSync(out, { recursive: true });
  for (const b of built) {
    await Bun.write(join(out, `${b.name}.oci.tar`), b.archive);
    console.log(`${b.name.padEnd(22)} ${b.digest}  ${join(out, `${b.name}.oci.tar`)}`);
  }
  console.log(
    JSON.stringify({ version, revision, images: Object.fromEntries(built.map((b) => [b.name, b.digest])) }),
  );
}
