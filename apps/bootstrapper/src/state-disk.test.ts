import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DeviceMapper, Luks2, noDeviceMapper, systemCryptsetup } from "@asterism/disk";
import { isAsterismError } from "@asterism/errors";
import { createMemoryLogger } from "@asterism/service";
import { createStateDisk } from "./state-disk.ts";
import type { MountReason, StateMount } from "./state-mount.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-state-disk-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const luks = new Luks2({ cryptsetup: systemCryptsetup(), pbkdf: { pbkdf: "pbkdf2", iterations: 1000 } });
const key = () => crypto.getRandomValues(new Uint8Array(32));

function disk(name: string, extra: { mapper?: DeviceMapper; mount?: StateMount } = {}) {
  const device = join(dir, `${name}.img`);
  writeFileSync(device, new Uint8Array(0));
  Bun.spawnSync(["truncate", "-s", "20M", device]);
  return createStateDisk({
    luks,
    mapper: extra.mapper ?? noDeviceMapper,
    device,
    bootKeyPath: join(dir, `${name}.key`),
    randomKey: key,
    logger: createMemoryLogger(),
    ...(extra.mount ? { mount: extra.mount } : {}),
  });
}

describe("state disk on a LUKS2 image (real cryptsetup)", () => {
  test("first boot formats; a restart before activation keeps the disk; activation re-keys and records the salt", async () => {
    const d = disk("a");
    const first = await d.inspect();
    expect(first.kind).toBe("fresh");
    expect((await d.inspect()).uuid).toBe(first.uuid); // restart: same disk, not reformatted
    const k = key();
    const salt = new Uint8Array(32).fill(5);
    expect(await d.activate(k, { measurementSalt: salt, role: "worker" })).toBeUndefined(); // no device-mapper here
    expect(existsSync(join(dir, "a.key"))).toBe(false);
    const again = await d.inspect();
    expect(again).toEqual({ kind: "initialized", uuid: first.uuid, measurementSalt: salt, role: "worker" });
    await d.unlock(k);
    let code: string | undefined;
    try {
      await d.unlock(key());
    } catch (e) {
      code = isAsterismError(e) ? e.code : undefined;
    }
    expect(code).toBe("WRONG_KEY");
  });

  test("an uninitialized disk whose first-boot key is gone is formatted afresh", async () => {
    const d = disk("b");
    const first = await d.inspect();
    rmSync(join(dir, "b.key"));
    const second = await d.inspect();
    expect(second.kind).toBe("fresh");
    expect(second.uuid).not.toBe(first.uuid);
  });

  test("a failure after the lock marks the disk uninitialized (the next boot starts over)", async () => {
    const d = disk("c");
    await d.inspect();
    await d.activate(key(), { measurementSalt: new Uint8Array(32), role: "worker" });
    await d.markUninitialized();
    expect((await d.inspect()).kind).toBe("fresh");
  });

  test("the cluster owners recorded at activation are read back before unlock; a malformed record is an error", async () => {
    const d = disk("o");
    const { uuid } = await d.inspect();
    const owner = { anchor: "a7".repeat(32), head: { sequence: 1, hash: "b8".repeat(32) } };
    await d.activate(key(), { measurementSalt: new Uint8Array(32).fill(1), role: "control-plane", owner });
    expect(await d.inspect()).toMatchObject({ kind: "initialized", uuid, owner });
    // Someone edits the unprotected LUKS2 token: the node does not read that as "no owners".
    await luks.writeToken(join(dir, "o.img"), {
      type: "asterism-state-disk",
      keyslots: [],
      initialized: true,
      measurementSalt: Buffer.from(new Uint8Array(32).fill(1)).toString("base64"),
      role: "control-plane",
      owner: { anchor: "not hex" },
    });
    let code: string | undefined;
    try {
      await d.inspect();
    } catch (e) {
      code = isAsterismError(e) ? e.code : undefined;
    }
    expect(code).toBe("NOT_LUKS");
  });

  test("the file system step follows the mapping: made on first activation, only mounted on unlock", async () => {
    // device-mapper is absent here: a mapper that records the key check and names the mapping stands in.
    const opened: string[] = [];
    const mapper: DeviceMapper = {
      open: async (_device, name) => {
        opened.push(name);
        return `/dev/mapper/${name}`;
      },
      close: async () => {},
    };
    const prepared: [string, MountReason][] = [];
    const mount = {
      mountPoint: "/var/lib/asterism",
      prepare: async (device: string, reason: MountReason) => {
        prepared.push([device, reason]);
      },
    } as StateMount;
    const d = disk("d", { mapper, mount });
    await d.inspect();
    const k = key();
    expect(await d.activate(k, { measurementSalt: new Uint8Array(32), role: "control-plane" })).toBe(
      "/dev/mapper/state",
    );
    await d.unlock(k);
    expect(opened).toEqual(["state", "state"]);
    expect(prepared).toEqual([
      ["/dev/mapper/state", "first-activation"],
      ["/dev/mapper/state", "unlock"],
    ]);
  });

  test("without device-mapper nothing is mapped, so nothing is mounted (and the log says where not)", async () => {
    let calls = 0;
    const mount = {
      mountPoint: "/var/lib/asterism",
      prepare: async () => {
        calls++;
      },
    } as StateMount;
    const d = disk("e", { mount });
    await d.inspect();
    expect(await d.activate(key(), { measurementSalt: new Uint8Array(32), role: "worker" })).toBeUndefined();
    expect(calls).toBe(0);
  });
});
