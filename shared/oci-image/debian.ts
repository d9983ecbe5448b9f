import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { OciError } from "./errors.ts";
import type { TarEntry } from "./tar.ts";

/** Where dpkg keeps its database; injectable for tests. */
export interface DebianSourceOptions {
  /** File-system root holding /var/lib/dpkg and the installed files (default "/"). */
  readonly root?: string;
}

/** Files taken from one installed Debian package, with the package version for provenance. */
export interface DebianFiles {
  readonly pkg: string;
  readonly version: string;
  readonly entries: readonly TarEntry[];
}

function dpkgInfo(root: string, pkg: string, suffix: string): string {
  for (const name of [`${pkg}:amd64.${suffix}`, `${pkg}.${suffix}`]) {
    const p = join(root, "var/lib/dpkg/info", name);
    if (existsSync(p)) return readFileSync(p, "utf8");
  }
  throw new OciError("DEBIAN_FILE", `Cannot read dpkg ${suffix} of ${pkg}`, {
    expected: "an installed package",
    actual: pkg,
  });
}

function installedVersion(root: string, pkg: string): string {
  const status = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");
  for (const stanza of status.split("\n\n")) {
    const name = /^Package: (.+)$/m.exec(stanza)?.[1];
    const arch = /^Architecture: (.+)$/m.exec(stanza)?.[1];
    if (name !== pkg || (arch !== "amd64" && arch !== "all")) continue;
    if (!/^Status: install ok installed$/m.test(stanza)) break;
    const version = /^Version: (.+)$/m.exec(stanza)?.[1];
    if (version !== undefined) return version;
  }
  throw new OciError("DEBIAN_FILE", `Cannot find the installed version of ${pkg}`, { actual: pkg });
}

/** `/lib/...` → `usr/lib/...`: the image uses Debian's merged-/usr layout, with /lib and /lib64 as symlinks. */
export function imagePathOf(dpkgPath: string): string {
  const p = dpkgPath.replace(/^\/+/, "");
  return p.startsWith("lib/") || p.startsWith("lib64/") ? `usr/${p}` : p;
}

/**
 * Takes files of an installed Debian package into a layer, refusing any file that dpkg does not list for
 * that package or whose bytes differ from the package's recorded MD5 (dpkg's own integrity record; it
 * detects a locally modified library, while authenticity comes from apt having verified the signed
 * package before installing it). Ownership is root, the mode is the package's.
 */
export function debianFiles(
  pkg: string,
  dpkgPaths: readonly string[],
  options: DebianSourceOptions = {},
): DebianFiles {
  const root = options.root ?? "/";
  const listed = new Set(dpkgInfo(root, pkg, "list").split("\n"));
  const md5 = new Map<string, string>();
  for (const line of dpkgInfo(root, pkg, "md5sums").split("\n")) {
    const m = /^([0-9a-f]{32}) {2}(.+)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) md5.set(`/${m[2]}`, m[1]);
  }
  const entries = dpkgPaths.map((path): TarEntry => {
    const want = md5.get(path);
    if (!listed.has(path) || want === undefined)
      throw new OciError("DEBIAN_FILE", `Cannot take ${path} from ${pkg}`, {
        expected: `a regular file of ${pkg}`,
        actual: path,
      });
    const hostPath = join(root, path);
    const content = new Uint8Array(readFileSync(hostPath));
    const got = createHash("md5").update(content).digest("hex");
    if (got !== want)
      throw new OciError("DEBIAN_FILE", `Cannot take ${path} from ${pkg}`, {
        expected: `md5 ${want}`,
        actual: `md5 ${got}`,
      });
    return { type: "file", path: imagePathOf(path), mode: statSync(hostPath).mode & 0o777, content };
  });
  return { pkg, version: installedVersion(root, pkg), entries };
}
