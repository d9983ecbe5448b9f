import { type DebianFiles, type DebianSourceOptions, debianFiles } from "./debian.ts";
import { type BuiltImage, buildImage, type LayerCache } from "./image.ts";
import type { TarEntry } from "./tar.ts";

/** The unprivileged user every Asterism image runs as (the manifests' runAsUser). */
export const RUNTIME_UID = 65532;

/**
 * What a `bun build --compile` executable needs at run time (its `ldd` on Debian 12): glibc's loader and
 * libc, libm, libpthread, libdl — all in `libc6`. Bun links its C++ runtime statically.
 */
export const BUN_RUNTIME_LIBS: readonly string[] = [
  "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/x86_64-linux-gnu/libdl.so.2",
  "/lib/x86_64-linux-gnu/libm.so.6",
  "/lib/x86_64-linux-gnu/libpthread.so.0",
  // glibc is LGPL: ship its license with its binaries.
  "/usr/share/doc/libc6/copyright",
];

const text = (s: string) => new TextEncoder().encode(s);

/**
 * The shared base layer: Debian's libc files, a merged-/usr skeleton, a non-root user and a writable /tmp.
 * No shell, no package manager, no setuid files. `tss` (GID 59) mirrors the node image's TPM group so the
 * supplemental group in the manifests has a name.
 */
export function runtimeBaseEntries(libc: DebianFiles): TarEntry[] {
  return [
    ...libc.entries,
    { type: "symlink", path: "lib", target: "usr/lib" },
    { type: "symlink", path: "lib64", target: "usr/lib64" },
    {
      type: "symlink",
      path: "usr/lib64/ld-linux-x86-64.so.2",
      target: "../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    },
    {
      type: "file",
      path: "etc/passwd",
      mode: 0o644,
      content: text(
        `root:x:0:0:root:/root:/nonexistent\nnonroot:x:${RUNTIME_UID}:${RUNTIME_UID}:nonroot:/home/nonroot:/nonexistent\n`,
      ),
    },
    {
      type: "file",
      path: "etc/group",
      mode: 0o644,
      content: text(`root:x:0:\ntss:x:59:\nnonroot:x:${RUNTIME_UID}:\n`),
    },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "root", mode: 0o700 },
    { type: "dir", path: "home/nonroot", mode: 0o700, uid: RUNTIME_UID, gid: RUNTIME_UID },
  ];
}

export interface ServiceImageOptions {
  /** Service name: the binary becomes /usr/local/bin/<name>. */
  readonly name: string;
  /** The `bun build --compile` executable. */
  readonly binary: Uint8Array;
  readonly ports: readonly number[];
  /** Image tag recorded in index.json. */
  readonly version: string;
  /** Source revision (git commit) for the `org.opencontainers.image.revision` annotation. */
  readonly revision?: string;
  /** Where the libc files come from (default: this machine's dpkg database). */
  readonly debian?: DebianSourceOptions;
  /** Shared across images of one build so the identical base layer is compressed once. */
  readonly cache?: LayerCache;
}

/**
 * An Asterism service image: base layer (Debian libc, users) + one layer with the binary (root-owned,
 * 0755, not writable by the service user), running as 65532 with the binary as entrypoint.
 */
export function buildServiceImage(o: ServiceImageOptions): Promise<BuiltImage> {
  const libc = debianFiles("libc6", BUN_RUNTIME_LIBS, o.debian);
  return buildImage(
    {
      layers: [
        { comment: `debian libc6 ${libc.version}, users, /tmp`, entries: runtimeBaseEntries(libc) },
        {
          comment: `${o.name} binary`,
          entries: [{ type: "file", path: `usr/local/bin/${o.name}`, mode: 0o755, content: o.binary }],
        },
      ],
      config: {
        user: `${RUNTIME_UID}:${RUNTIME_UID}`,
        entrypoint: [`/usr/local/bin/${o.name}`],
        env: ["PATH=/usr/local/bin", "TMPDIR=/tmp"],
        exposedPorts: o.ports,
        labels: { "org.opencontainers.image.title": `asterism-${o.name}` },
      },
      annotations: {
        "org.opencontainers.image.title": `asterism-${o.name}`,
        "org.opencontainers.image.version": o.version,
        ...(o.revision === undefined ? {} : { "org.opencontainers.image.revision": o.revision }),
        "dev.asterism.debian.packages": `${libc.pkg}=${libc.version}`,
      },
      refName: o.version,
    },
    o.cache,
  );
}
