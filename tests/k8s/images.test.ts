// Container images (issue 10): each service image built twice gives the same digest, and the image is
// usable: a second implementation (umoci, when installed) unpacks it with digest checks, and the binary
// runs from the unpacked root file system as the non-root user with only the shipped libraries.
//
// The real services come from other branches; this test compiles a tiny placeholder main (real Bun
// runtime, real size, ~109 MB) for the kms image. join-service and verification-service go through the
// same code path with a 1 MiB stand-in binary, which keeps the file well under 20 s on a shared machine
// (compressing 109 MB takes ~2 s per build); `bun image/build-containers.ts --check-reproducible` does the
// double build for every real binary.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { type BuiltArchive, buildArchives, compileService, SERVICES } from "../../image/build-containers.ts";

// bunfig's [test] timeout is not applied by Bun 1.4.5; slow steps (TLS, compile, umoci) need more than 5 s on a loaded machine.
setDefaultTimeout(30_000);

const PLACEHOLDER =
  "console.log(JSON.stringify({ placeholder: true, uid: process.getuid?.(), argv: process.argv.slice(2) }));\n";
const work = mkdtempSync(join(tmpdir(), "asterism-images-"));
let binary: Uint8Array;
let first: BuiltArchive[];
let second: BuiltArchive[];

function checkout(name: string): string {
  const dir = join(work, name);
  mkdirSync(join(dir, "apps", "svc", "src"), { recursive: true });
  writeFileSync(join(dir, "apps", "svc", "src", "main.ts"), PLACEHOLDER);
  return dir;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
const of = (list: BuiltArchive[], name: string) => list.find((b) => b.name === name) as BuiltArchive;

beforeAll(async () => {
  binary = compileService(checkout("a"), "apps/svc/src/main.ts", "svc", "0.1.0");
  const standIn = binary.subarray(0, 1 << 20);
  const binaries = new Map(SERVICES.map((s) => [s.name, s.name === "kms" ? binary : standIn] as const));
  first = await buildArchives(binaries, { version: "v0.1.0", revision: "0".repeat(40) });
  second = await buildArchives(binaries, { version: "v0.1.0", revision: "0".repeat(40) });
}, 120_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

test("bun build --compile is reproducible across checkouts (fixed entry path and output name)", () => {
  const again = compileService(checkout("b"), "apps/svc/src/main.ts", "svc", "0.1.0");
  expect(Buffer.from(again).equals(Buffer.from(binary))).toBe(true);
}, 60_000);

test.each(SERVICES.map((s) => s.name))(
  "%s: two builds give the same digest and a byte-identical archive",
  (name) => {
    expect(of(first, name).digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(of(second, name).digest).toBe(of(first, name).digest);
    expect(Buffer.from(of(second, name).archive).equals(Buffer.from(of(first, name).archive))).toBe(true);
  },
);

test("the three images differ but share the base layer", () => {
  expect(new Set(first.map((b) => b.digest)).size).toBe(3);
});

describe("the kms image, unpacked", () => {
  const name = "kms";
  const dir = join(work, "unpack");
  const layout = join(dir, "layout");
  const rootfs = join(dir, "bundle", "rootfs");

  beforeAll(() => {
    mkdirSync(layout, { recursive: true });
    writeFileSync(join(dir, "image.oci.tar"), of(first, name).archive);
    const x = Bun.spawnSync(["tar", "-xf", join(dir, "image.oci.tar"), "-C", layout]);
    if (x.exitCode !== 0) throw new Error("tar -xf failed");
  }, 60_000);

  test("index.json names the manifest and the tag", () => {
    const index = readJson<{ manifests: { digest: string; annotations: Record<string, string> }[] }>(
      join(layout, "index.json"),
    );
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]?.digest).toBe(of(first, name).digest);
    expect(index.manifests[0]?.annotations["org.opencontainers.image.ref.name"]).toBe("v0.1.0");
    const manifest = readJson<{ annotations: Record<string, string>; layers: unknown[] }>(
      join(layout, "blobs", "sha256", of(first, name).digest.slice(7)),
    );
    expect(manifest.layers).toHaveLength(2);
    expect(manifest.annotations["dev.asterism.debian.packages"]).toMatch(/^libc6=2\.\d+/);
  });

  test("unpacks (umoci verifies every digest) to exactly the expected files, no shell", () => {
    if (Bun.which("umoci") !== null) {
      const p = Bun.spawnSync(
        ["umoci", "unpack", "--rootless", "--image", `${layout}:v0.1.0`, join(dir, "bundle")],
        {
          stderr: "pipe",
        },
      );
      expect(p.exitCode).toBe(0);
      const runtime = readJson<{ process: { user: { uid: number; gid: number }; args: string[] } }>(
        join(dir, "bundle", "config.json"),
      );
      expect(runtime.process.user).toMatchObject({ uid: 65532, gid: 65532 });
      expect(runtime.process.args).toEqual([`/usr/local/bin/${name}`]);
    } else {
      // Without umoci (not installed by default): apply the gzip layers in order with tar.
      mkdirSync(rootfs, { recursive: true });
      const blob = (d: string) => join(layout, "blobs", "sha256", d.slice(7));
      const manifest = readJson<{ layers: { digest: string }[] }>(blob(of(first, name).digest));
      for (const l of manifest.layers) {
        const tarPath = join(dir, `${l.digest.slice(7)}.tar`);
        writeFileSync(tarPath, gunzipSync(readFileSync(blob(l.digest))));
        expect(Bun.spawnSync(["tar", "-xf", tarPath, "-C", rootfs]).exitCode).toBe(0);
      }
    }
    const files: string[] = [];
    const walk = (d: string, rel: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const r = rel === "" ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) walk(join(d, e.name), r);
        else files.push(r);
      }
    };
    walk(rootfs, "");
    expect(files.sort()).toEqual([
      "etc/group",
      "etc/passwd",
      "lib",
      "lib64",
      "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
      "usr/lib/x86_64-linux-gnu/libc.so.6",
      "usr/lib/x86_64-linux-gnu/libdl.so.2",
      "usr/lib/x86_64-linux-gnu/libm.so.6",
      "usr/lib/x86_64-linux-gnu/libpthread.so.0",
      "usr/lib64/ld-linux-x86-64.so.2",
      `usr/local/bin/${name}`,
      "usr/share/doc/libc6/copyright",
    ]);
    expect(existsSync(join(rootfs, "bin", "sh"))).toBe(false);
    expect(statSync(join(rootfs, "tmp")).mode & 0o7777).toBe(0o1777);
  }, 60_000);

  // Like a container runtime: own PID namespace with /proc mounted (Bun reads /proc/self/exe to find its
  // embedded program), root changed to the image, image user. Needs root and util-linux unshare.
  const canRun = process.getuid?.() === 0 && Bun.which("unshare") !== null && Bun.which("chroot") !== null;
  test.skipIf(!canRun)(
    "runs as 65532 with only the shipped libraries",
    () => {
      mkdirSync(join(rootfs, "proc"), { recursive: true });
      const run = Bun.spawnSync(
        [
          "unshare",
          "--mount",
          "--pid",
          "--fork",
          `--mount-proc=${join(rootfs, "proc")}`,
          "chroot",
          "--userspec=65532:65532",
          rootfs,
          `/usr/local/bin/${name}`,
          "hello",
        ],
        { stdout: "pipe", stderr: "pipe", timeout: 30_000 },
      );
      expect(run.stderr.toString()).toBe("");
      expect(JSON.parse(run.stdout.toString())).toEqual({ placeholder: true, uid: 65532, argv: ["hello"] });
    },
    60_000,
  );
});
