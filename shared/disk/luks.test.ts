import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { codeOfAsync as codeOf } from "@asterism/testing";
import { installDiskKey, Luks2, noDeviceMapper, prepareStateDisk, systemCryptsetup } from "./index.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-luks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const luks = new Luks2({ cryptsetup: systemCryptsetup(), pbkdf: { pbkdf: "pbkdf2", iterations: 1000 } });
const rand = () => crypto.getRandomValues(new Uint8Array(32));

async function image(name: string): Promise<string> {
  const p = join(dir, name);
  await Bun.write(p, new Uint8Array(0));
  const t = Bun.spawnSync(["truncate", "-s", "20M", p]);
  expect(t.exitCode).toBe(0);
  return p;
}

describe("Luks2 on a file image (real cryptsetup)", () => {
  test("LUKS2 tokens: absent, written, replaced", async () => {
    const img = await image("tok.img");
    await luks.format(img, rand());
    expect(await luks.readToken(img)).toBeUndefined();
    await luks.writeToken(img, { type: "asterism-state-disk", keyslots: [], initialized: false });
    expect(await luks.readToken(img)).toEqual({
      type: "asterism-state-disk",
      keyslots: [],
      initialized: false,
    });
    await luks.writeToken(img, {
      type: "asterism-state-disk",
      keyslots: [],
      initialized: true,
      salt: "AA==",
    });
    expect((await luks.readToken(img))?.["initialized"]).toBe(true);
    expect(await codeOf(luks.readToken(join(dir, "missing.img")))).toBe("CRYPTSETUP_FAILED");
  });

  test("format, uuid, test a key, add and remove keys", async () => {
    const img = await image("a.img");
    expect(await luks.isLuks(img)).toBe(false);
    const k1 = rand();
    const k2 = rand();
    await luks.format(img, k1);
    expect(await luks.isLuks(img)).toBe(true);
    expect(await luks.uuid(img)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(await luks.testKey(img, k1)).toBe(true);
    expect(await luks.testKey(img, k2)).toBe(false);
    await luks.addKey(img, k1, k2);
    expect(await luks.testKey(img, k2)).toBe(true);
    await luks.removeKey(img, k1);
    expect(await luks.testKey(img, k1)).toBe(false);
    expect(await luks.testKey(img, k2)).toBe(true);
  });

  test("adding a key needs a key that opens the disk", async () => {
    const img = await image("b.img");
    await luks.format(img, rand());
    expect(await codeOf(luks.addKey(img, rand(), rand()))).toBe("WRONG_KEY");
  });

  test("short or empty keys are refused before cryptsetup runs", async () => {
    const img = await image("c.img");
    expect(await codeOf(luks.format(img, new Uint8Array(0)))).toBe("INVALID_KEY");
    expect(await codeOf(luks.format(img, new Uint8Array(8)))).toBe("INVALID_KEY");
  });

  test("a non-LUKS device has no UUID", async () => {
    expect(await codeOf(luks.uuid(await image("d.img")))).toBe("NOT_LUKS");
  });

  test("key files for luksAddKey never outlive the call", async () => {
    // Watch the very files this call hands to cryptsetup (other processes on the machine may use
    // /dev/shm at the same time, so a before/after listing of it would be racy).
    const real = systemCryptsetup();
    const keyFiles: string[] = [];
    const watching = new Luks2({
      cryptsetup: {
        run: async (args, stdin) => {
          for (const a of args) if (a.startsWith("/dev/shm/asterism-key-")) keyFiles.push(a);
          if (keyFiles.length) expect(existsSync(keyFiles[0] as string)).toBe(true);
          return real.run(args, stdin);
        },
      },
      pbkdf: { pbkdf: "pbkdf2", iterations: 1000 },
    });
    const img = await image("e.img");
    const k = rand();
    await watching.format(img, k);
    await watching.addKey(img, k, rand());
    expect(keyFiles.length).toBeGreaterThan(0);
    for (const f of keyFiles) {
      expect(existsSync(f)).toBe(false);
      expect(existsSync(dirname(f))).toBe(false);
    }
  });
});

describe("state disk flow", () => {
  const deps = { luks, mapper: noDeviceMapper, randomKey: rand };

  test("first boot: random passphrase, then the ticket key replaces it", async () => {
    const img = await image("s1.img");
    const prepared = await prepareStateDisk(deps, img);
    expect(prepared.bootKey).toBeDefined();
    const bootKeyCopy = prepared.bootKey!.slice();
    const diskKey = rand();
    const result = await installDiskKey(deps, img, prepared, diskKey, "state");
    expect(result).toEqual({ uuid: prepared.uuid, origin: "formatted", mappedPath: undefined });
    expect(await luks.testKey(img, diskKey)).toBe(true);
    expect(await luks.testKey(img, bootKeyCopy)).toBe(false);
  });

  test("rejoin: an existing disk opens with its own key and refuses another", async () => {
    const img = await image("s2.img");
    const diskKey = rand();
    await installDiskKey(deps, img, await prepareStateDisk(deps, img), diskKey, "state");
    const again = await prepareStateDisk(deps, img);
    expect(again.bootKey).toBeUndefined();
    expect((await installDiskKey(deps, img, again, diskKey, "state")).origin).toBe("existing");
    expect(await codeOf(installDiskKey(deps, img, again, rand(), "state"))).toBe("WRONG_KEY");
  });

  test("the mapping step reports that device-mapper is missing instead of faking it", async () => {
    expect(await codeOf(noDeviceMapper.open("/dev/null", "x", rand()))).toBe("MAPPING_UNAVAILABLE");
  });
});
