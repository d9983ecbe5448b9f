import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ComponentError } from "./errors.ts";
import { extractTarGz, parseTar } from "./tar.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "tar-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Builds hostile archives with Python's tarfile (an independent writer), one member per spec:
 * [name, kind, target] with kind file|dir|symlink|hardlink|fifo.
 */
async function pyTar(members: [string, string, string?][], format = "USTAR"): Promise<Uint8Array> {
  const script = `
import io, sys, tarfile, json
members = json.loads(sys.argv[1])
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=getattr(tarfile, sys.argv[2] + "_FORMAT")) as t:
    for name, kind, target in [m + [None] * (3 - len(m)) for m in members]:
        ti = tarfile.TarInfo(name)
        data = b""
        if kind == "file": data = b"payload"; ti.size = len(data)
        elif kind == "dir": ti.type = tarfile.DIRTYPE
        elif kind == "symlink": ti.type = tarfile.SYMTYPE; ti.linkname = target
        elif kind == "hardlink": ti.type = tarfile.LNKTYPE; ti.linkname = target
        elif kind == "fifo": ti.type = tarfile.FIFOTYPE
        t.addfile(ti, io.BytesIO(data))
sys.stdout.buffer.write(buf.getvalue())
`;
  return new Uint8Array(await Bun.$`python3 -c ${script} ${JSON.stringify(members)} ${format}`.arrayBuffer());
}

describe("parseTar", () => {
  test("plain files and directories", async () => {
    const entries = parseTar(
      await pyTar([
        ["a", "dir"],
        ["a/b", "file"],
        ["./c", "file"],
      ]),
    );
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ["a", "directory"],
      ["a/b", "file"],
      ["c", "file"],
    ]);
  });

  test.each([
    { name: "parent escape", members: [["../evil", "file"]] },
    { name: "nested parent escape", members: [["a/../../evil", "file"]] },
    { name: "absolute path", members: [["/etc/evil", "file"]] },
    { name: "symlink", members: [["link", "symlink", "/etc"]] },
    { name: "hard link", members: [["link", "hardlink", "/etc/passwd"]] },
    { name: "fifo", members: [["p", "fifo"]] },
  ] as { name: string; members: [string, string, string?][] }[])("refuses $name", async ({ members }) => {
    const tar = await pyTar(members);
    expect(() => parseTar(tar)).toThrow(expect.objectContaining({ code: "COMPONENT_ARCHIVE_UNSAFE" }));
  });

  test("pax extension headers are refused (they could rename an entry)", async () => {
    const tar = await pyTar([["x".repeat(120), "file"]], "PAX");
    expect(() => parseTar(tar)).toThrow(expect.objectContaining({ code: "COMPONENT_ARCHIVE_UNSAFE" }));
  });

  test("an empty input has no end-of-archive marker", () => {
    expect(() => parseTar(new Uint8Array())).toThrow(
      expect.objectContaining({ code: "COMPONENT_ARCHIVE_UNSAFE" }),
    );
  });

  test("corrupt checksum and truncation are refused", async () => {
    const tar = await pyTar([["a", "file"]]);
    const bad = tar.slice();
    bad[0] = "b".charCodeAt(0);
    expect(() => parseTar(bad)).toThrow(ComponentError);
    expect(() => parseTar(tar.slice(0, 600))).toThrow(ComponentError);
  });
});

describe("extractTarGz", () => {
  test("writes nothing when any entry is unsafe", async () => {
    const dest = join(dir, "out");
    const tar = await pyTar([
      ["good", "file"],
      ["../evil", "file"],
    ]);
    const err = await extractTarGz(gzipSync(tar), dest, { maxBytes: 1 << 20 }).catch((e: unknown) => e);
    expect((err as ComponentError).code).toBe("COMPONENT_ARCHIVE_UNSAFE");
    expect(await readdir(dir)).not.toContain("out");
    expect(await readdir(dir)).not.toContain("evil");
  });

  test("not gzip → coded error", async () => {
    const err = await extractTarGz(new Uint8Array([1, 2, 3]), join(dir, "x"), { maxBytes: 1024 }).catch(
      (e: unknown) => e,
    );
    expect((err as ComponentError).code).toBe("COMPONENT_ARCHIVE_UNSAFE");
  });
});
