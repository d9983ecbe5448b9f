import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Component, parseComponentList } from "./components.ts";
import { downloadComponent } from "./download.ts";
import { ComponentError } from "./errors.ts";

const BODY = new TextEncoder().encode("#!/bin/sh\necho kubeadm\n");
const sha = (b: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;
let server: ReturnType<typeof Bun.serve>;
let base: string;
let dir: string;
let tgz: Uint8Array<ArrayBuffer>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "component-dl-"));
  // A real tar.gz made by GNU tar, so extraction is checked against an independent writer.
  const src = join(dir, "src");
  await Bun.$`mkdir -p ${src}/sub && printf 'bridge' > ${src}/bridge && chmod 755 ${src}/bridge && printf 'cfg' > ${src}/sub/readme`.quiet();
  tgz = new Uint8Array(await Bun.$`tar -C ${src} -czf - .`.arrayBuffer());
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      switch (path) {
        case "/kubeadm":
          return new Response(BODY);
        case "/cni.tgz":
          return new Response(tgz);
        case "/big-declared":
          return new Response(new Uint8Array(4096));
        case "/big-streamed":
          return new Response(
            new ReadableStream({
              pull(c) {
                c.enqueue(new Uint8Array(1024));
              },
            }),
          );
        case "/stall-body":
          return new Response(
            new ReadableStream({
              start(c) {
                c.enqueue(new Uint8Array(10));
              },
            }),
          );
        case "/stall-headers":
          await Bun.sleep(2000);
          return new Response("late");
        default:
          return new Response("no", { status: 404 });
      }
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  server.stop(true);
  await rm(dir, { recursive: true, force: true });
});

const deps = {
  fetch: (u: string, i: RequestInit) => fetch(u, i),
  maxBytes: 2048,
  maxExtractedBytes: 64 * 1024,
  timeoutMs: 300,
};
const component = (path: string, hash: string, installName: string, extract = false): Component =>
  parseComponentList([
    { url: `${base}${path}`, hash, installPath: join(dir, installName), extract },
  ])[0] as Component;

async function leftovers(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.includes(".partial-"));
}

describe("downloadComponent", () => {
  test("correct hash: installed with mode 0544, no partial file left", async () => {
    const r = await downloadComponent(component("/kubeadm", sha(BODY), "kubeadm"), deps);
    expect(r.bytes).toBe(BODY.length);
    expect(new Uint8Array(await readFile(join(dir, "kubeadm")))).toEqual(BODY);
    expect((await stat(join(dir, "kubeadm"))).mode & 0o777).toBe(0o544);
    expect(await leftovers()).toEqual([]);
  });

  test("archive: verified, then unpacked with exec bits kept", async () => {
    const r = await downloadComponent(component("/cni.tgz", sha(tgz), "cni", true), deps);
    expect([...r.extracted].sort()).toEqual(["bridge", "sub/readme"]);
    expect(await readFile(join(dir, "cni", "bridge"), "utf8")).toBe("bridge");
    expect((await stat(join(dir, "cni", "bridge"))).mode & 0o777).toBe(0o755);
    expect((await stat(join(dir, "cni", "sub", "readme"))).mode & 0o777).toBe(0o644);
    expect(await leftovers()).toEqual([]);
  });

  const failures = [
    {
      name: "wrong hash",
      path: "/kubeadm",
      hash: sha("something else"),
      wantCode: "COMPONENT_HASH_MISMATCH",
    },
    {
      name: "declared body over the bound",
      path: "/big-declared",
      hash: sha("x"),
      wantCode: "COMPONENT_TOO_LARGE",
    },
    { name: "endless body", path: "/big-streamed", hash: sha("x"), wantCode: "COMPONENT_TOO_LARGE" },
    { name: "body that stalls", path: "/stall-body", hash: sha("x"), wantCode: "COMPONENT_TIMEOUT" },
    {
      name: "headers that never come",
      path: "/stall-headers",
      hash: sha("x"),
      wantCode: "COMPONENT_TIMEOUT",
    },
    { name: "HTTP 404", path: "/missing", hash: sha("x"), wantCode: "COMPONENT_FETCH_FAILED" },
    {
      name: "archive with the wrong hash is never unpacked",
      path: "/cni.tgz",
      hash: sha("x"),
      wantCode: "COMPONENT_HASH_MISMATCH",
      extract: true,
    },
  ];
  test.each(failures)(
    "$name → $wantCode, target untouched, partial removed",
    async ({ path, hash, wantCode, extract }) => {
      const name = `target-${wantCode}-${path.slice(1)}`;
      const err = await downloadComponent(component(path, hash, name, extract), deps).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ComponentError);
      expect((err as ComponentError).code).toBe(wantCode as ComponentError["code"]);
      expect(await Bun.file(join(dir, name)).exists()).toBe(false);
      expect(await leftovers()).toEqual([]);
    },
  );

  test("decompressed size is bounded (gzip bombs)", async () => {
    const err = await downloadComponent(component("/cni.tgz", sha(tgz), "cni-small", true), {
      ...deps,
      maxExtractedBytes: 4096,
    }).catch((e: unknown) => e);
    expect((err as ComponentError).code).toBe("COMPONENT_ARCHIVE_UNSAFE");
    expect(await leftovers()).toEqual([]);
  });

  test("missing hash never reaches the downloader", () => {
    expect(() => parseComponentList([{ url: `${base}/kubeadm`, installPath: join(dir, "k2") }])).toThrow(
      expect.objectContaining({ code: "COMPONENT_HASH_MISSING" }),
    );
  });

  test("fetch is injected: a failing transport is a coded error", async () => {
    const err = await downloadComponent(component("/kubeadm", sha(BODY), "k3"), {
      ...deps,
      fetch: async () => {
        throw new TypeError("connection refused");
      },
    }).catch((e: unknown) => e);
    expect((err as ComponentError).code).toBe("COMPONENT_FETCH_FAILED");
  });

  test("data: URLs are pinned like any other", async () => {
    const payload = '{"op":"add"}';
    const url = `data:application/json;base64,${btoa(payload)}`;
    const [c] = parseComponentList([{ url, hash: sha(payload), installPath: join(dir, "patch.json") }]);
    await downloadComponent(c as Component, deps);
    expect(await readFile(join(dir, "patch.json"), "utf8")).toBe(payload);
    const [bad] = parseComponentList([{ url, hash: sha("other"), installPath: join(dir, "patch2.json") }]);
    const err = await downloadComponent(bad as Component, deps).catch((e: unknown) => e);
    expect((err as ComponentError).code).toBe("COMPONENT_HASH_MISMATCH");
  });
});
