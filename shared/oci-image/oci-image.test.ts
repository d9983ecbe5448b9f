import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  BUN_RUNTIME_LIBS,
  buildImage,
  createTar,
  debianFiles,
  gzipDeterministic,
  gzipDeterministicAsync,
  OciError,
  type OciErrorCode,
  type TarEntry,
} from "./index.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "asterism-oci-"));
  dirs.push(d);
  return d;
};
const bytes = (s: string) => new TextEncoder().encode(s);

function ociCode(fn: () => unknown): OciErrorCode {
  try {
    fn();
  } catch (err) {
    if (err instanceof OciError) return err.code;
    throw err;
  }
  throw new Error("expected an OciError");
}

const ENTRIES: TarEntry[] = [
  { type: "file", path: "usr/local/bin/app", mode: 0o755, content: bytes("#binary") },
  { type: "file", path: "etc/passwd", mode: 0o644, content: bytes("root:x:0:0::/:/x\n") },
  { type: "symlink", path: "lib", target: "usr/lib" },
  { type: "dir", path: "home/nonroot", mode: 0o700, uid: 65532, gid: 65532 },
  { type: "file", path: `${"d".repeat(90)}/${"f".repeat(90)}`, mode: 0o600, content: new Uint8Array(1000) },
];

describe("tar", () => {
  test("input order does not matter: same entries, same bytes", () => {
    expect(createTar([...ENTRIES].reverse())).toEqual(createTar(ENTRIES));
  });

  test("GNU tar reads it: sorted names, parents added, numeric owners, modes, epoch mtime", () => {
    const dir = tmp();
    writeFileSync(join(dir, "l.tar"), createTar(ENTRIES));
    const p = Bun.spawnSync(["tar", "--numeric-owner", "--full-time", "-tvf", join(dir, "l.tar")], {
      stdout: "pipe",
    });
    expect(p.exitCode).toBe(0);
    const lines = p.stdout.toString().trim().split("\n");
    const names = lines.map((l) => l.split(/\s+/).slice(5).join(" "));
    expect(names).toEqual([
      `${"d".repeat(90)}/`,
      `${"d".repeat(90)}/${"f".repeat(90)}`,
      "etc/",
      "etc/passwd",
      "home/",
      "home/nonroot/",
      "lib -> usr/lib",
      "usr/",
      "usr/local/",
      "usr/local/bin/",
      "usr/local/bin/app",
    ]);
    expect(lines.find((l) => l.endsWith("home/nonroot/"))).toStartWith("drwx------ 65532/65532");
    expect(lines.find((l) => l.endsWith("usr/local/bin/app"))).toStartWith("-rwxr-xr-x 0/0");
    for (const l of lines) expect(l).toContain("1970-01-01 00:00:00");
  });

  test.each([
    { name: "duplicate path", entries: [ENTRIES[0], ENTRIES[0]], want: "INVALID_ENTRY" },
    { name: "dot-dot", entries: [{ type: "dir", path: "a/../b", mode: 0o755 }], want: "INVALID_ENTRY" },
    { name: "empty path", entries: [{ type: "dir", path: "/", mode: 0o755 }], want: "INVALID_ENTRY" },
    {
      name: "NUL in a path",
      entries: [{ type: "dir", path: "a\u0000b", mode: 0o755 }],
      want: "INVALID_ENTRY",
    },
    {
      name: "NUL in a link target",
      entries: [{ type: "symlink", path: "l", target: "a\u0000b" }],
      want: "INVALID_ENTRY",
    },
    { name: "bad mode", entries: [{ type: "dir", path: "a", mode: 0o17777 }], want: "INVALID_ENTRY" },
    {
      name: "path too long for ustar",
      entries: [{ type: "dir", path: "x".repeat(300), mode: 0o755 }],
      want: "PATH_TOO_LONG",
    },
  ] as { name: string; entries: TarEntry[]; want: OciErrorCode }[])("$name → $want", ({ entries, want }) => {
    expect(ociCode(() => createTar(entries))).toBe(want);
  });
});

describe("gzip", () => {
  test("fixed header, round-trips, and `gzip -t` accepts it (sync and async alike)", async () => {
    const data = createTar(ENTRIES);
    const gz = gzipDeterministic(data);
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(data))).toBe(true);
    expect(gzipDeterministic(data)).toEqual(gz);
    expect(await gzipDeterministicAsync(data)).toEqual(gz);
    const dir = tmp();
    writeFileSync(join(dir, "x.gz"), gz);
    expect(Bun.spawnSync(["gzip", "-t", join(dir, "x.gz")]).exitCode).toBe(0);
  });
});

describe("Debian files", () => {
  test("libc6 runtime files are taken from dpkg, checked against its md5sums, placed under /usr", () => {
    const libc = debianFiles("libc6", BUN_RUNTIME_LIBS);
    expect(libc.version).toMatch(/^2\.\d+/);
    expect(libc.entries.map((e) => e.path)).toContain("usr/lib/x86_64-linux-gnu/libc.so.6");
  });

  function fakeRoot(tamper: boolean): string {
    const root = tmp();
    mkdirSync(join(root, "var/lib/dpkg/info"), { recursive: true });
    mkdirSync(join(root, "lib/x86_64-linux-gnu"), { recursive: true });
    cpSync("/var/lib/dpkg/info/libc6:amd64.list", join(root, "var/lib/dpkg/info/libc6:amd64.list"));
    cpSync("/var/lib/dpkg/info/libc6:amd64.md5sums", join(root, "var/lib/dpkg/info/libc6:amd64.md5sums"));
    writeFileSync(
      join(root, "var/lib/dpkg/status"),
      "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 9.9\n",
    );
    const lib = new Uint8Array(readFileSync("/lib/x86_64-linux-gnu/libdl.so.2"));
    if (tamper) lib[100] = (lib[100] ?? 0) ^ 1;
    writeFileSync(join(root, "lib/x86_64-linux-gnu/libdl.so.2"), lib);
    return root;
  }

  test("an untouched copy passes", () => {
    expect(
      debianFiles("libc6", ["/lib/x86_64-linux-gnu/libdl.so.2"], { root: fakeRoot(false) }).version,
    ).toBe("9.9");
  });
  test.each([
    { name: "a modified library", paths: ["/lib/x86_64-linux-gnu/libdl.so.2"], tamper: true },
    { name: "a file the package does not own", paths: ["/etc/shadow"], tamper: false },
    { name: "a directory of the package (not a file)", paths: ["/lib/x86_64-linux-gnu"], tamper: false },
  ])("$name → DEBIAN_FILE", ({ paths, tamper }) => {
    expect(ociCode(() => debianFiles("libc6", paths, { root: fakeRoot(tamper) }))).toBe("DEBIAN_FILE");
  });
  test("a package that is not installed → DEBIAN_FILE", () => {
    expect(ociCode(() => debianFiles("no-such-package", ["/x"]))).toBe("DEBIAN_FILE");
  });
});

test("image: digest is the manifest's sha256, layers deduplicated, JSON deterministic", async () => {
  const spec = {
    layers: [
      { comment: "a", entries: ENTRIES },
      { comment: "b", entries: ENTRIES },
    ],
    config: { user: "65532:65532", entrypoint: ["/usr/local/bin/app"] },
    refName: "v1",
  };
  const a = await buildImage(spec);
  const b = await buildImage(spec);
  expect(a.digest).toBe(b.digest);
  expect(a.index).toEqual(b.index);
  // config + manifest + one layer blob (both layers are identical)
  expect(a.blobs).toHaveLength(3);
  const manifest = a.blobs.find((x) => x.digest === a.digest);
  expect(manifest).toBeDefined();
  const parsed = JSON.parse(new TextDecoder().decode(manifest?.bytes)) as { layers: unknown[] };
  expect(parsed.layers).toHaveLength(2);
});
