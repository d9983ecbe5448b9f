import { type CryptsetupRunner, failed, type PbkdfOptions, pbkdfArgs, withKeyFile } from "./cryptsetup.ts";
import { DiskError } from "./errors.ts";

/** Opens and closes dm-crypt mappings. Needs device-mapper: real in a VM guest, absent on our CI host. */
export interface DeviceMapper {
  open(device: string, name: string, key: Uint8Array): Promise<string>;
  close(name: string): Promise<void>;
}

/** LUKS2 operations on a block device or an image file, all keys passed out of band (never argv). */
export class Luks2 {
  readonly #cs: CryptsetupRunner;
  readonly #pbkdf: PbkdfOptions | undefined;

  constructor(deps: { cryptsetup: CryptsetupRunner; pbkdf?: PbkdfOptions }) {
    this.#cs = deps.cryptsetup;
    this.#pbkdf = deps.pbkdf;
  }

  /** True when the device carries a LUKS header. */
  async isLuks(device: string): Promise<boolean> {
    return (await this.#cs.run(["isLuks", "--type", "luks2", device])).code === 0;
  }

  /** Format `device` as LUKS2 with `key` in slot 0. Destroys any data on it. */
  async format(device: string, key: Uint8Array): Promise<void> {
    checkKey(key);
    const r = await this.#cs.run(
      ["luksFormat", "--type", "luks2", "--batch-mode", ...pbkdfArgs(this.#pbkdf), "--key-file", "-", device],
      key,
    );
    if (r.code !== 0) failed(`Cannot format ${device}`, r);
  }

  /** The LUKS UUID in lower case: the id under which the disk's key is derived (`key-<uuid>`). */
  async uuid(device: string): Promise<string> {
    const r = await this.#cs.run(["luksUUID", device]);
    if (r.code !== 0)
      throw new DiskError("NOT_LUKS", `Cannot read the LUKS UUID of ${device}`, {
        actual: r.stderr.trim().slice(0, 200),
      });
    return r.stdout.trim().toLowerCase();
  }

  /** True when `key` opens a key slot (`open --test-passphrase`: no mapping, works without device-mapper). */
  async testKey(device: string, key: Uint8Array): Promise<boolean> {
    checkKey(key);
    const r = await this.#cs.run(["open", "--test-passphrase", "--key-file", "-", device], key);
    if (r.code === 0) return true;
    if (r.code === 2) return false;
    return failed(`Cannot test a key on ${device}`, r);
  }

  /** Add `newKey` to a free slot, authorised by `existingKey`. */
  async addKey(device: string, existingKey: Uint8Array, newKey: Uint8Array): Promise<void> {
    checkKey(existingKey);
    checkKey(newKey);
    const r = await withKeyFile(newKey, (newKeyFile) =>
      this.#cs.run(
        ["luksAddKey", "--batch-mode", ...pbkdfArgs(this.#pbkdf), "--key-file", "-", device, newKeyFile],
        existingKey,
      ),
    );
    if (r.code !== 0) failed(`Cannot add a key to ${device}`, r);
  }

  /**
   * LUKS2 token `id` (its JSON object), or undefined when the header has none. Tokens live in the
   * unencrypted header: public metadata only (state flags, a salt), never key material.
   */
  async readToken(device: string, id = 0): Promise<Record<string, unknown> | undefined> {
    const r = await this.#cs.run(["luksDump", "--dump-json-metadata", device]);
    if (r.code !== 0) failed(`Cannot read the LUKS2 header of ${device}`, r);
    let tokens: unknown;
    try {
      tokens = (JSON.parse(r.stdout) as { tokens?: unknown }).tokens;
    } catch (cause) {
      throw new DiskError("CRYPTSETUP_FAILED", `Cannot parse the LUKS2 header of ${device}`, { cause });
    }
    const t =
      typeof tokens === "object" && tokens !== null
        ? (tokens as Record<string, unknown>)[String(id)]
        : undefined;
    return typeof t === "object" && t !== null && !Array.isArray(t)
      ? (t as Record<string, unknown>)
      : undefined;
  }

  /** Write (create or replace) LUKS2 token `id`. `type` names the token; `keyslots` is usually `[]`. */
  async writeToken(
    device: string,
    token: { readonly type: string; readonly keyslots: readonly string[] } & Record<string, unknown>,
    id = 0,
  ): Promise<void> {
    const r = await this.#cs.run(
      ["token", "import", "--token-id", String(id), "--token-replace", "--json-file", "-", device],
      new TextEncoder().encode(JSON.stringify(token)),
    );
    if (r.code !== 0) failed(`Cannot write LUKS2 token ${id} of ${device}`, r);
  }

  /** Remove the slot that `key` opens (`luksRemoveKey`). Refused by cryptsetup if it is the last slot in batch mode. */
  async removeKey(device: string, key: Uint8Array): Promise<void> {
    checkKey(key);
    const r = await this.#cs.run(["luksRemoveKey", "--batch-mode", "--key-file", "-", device], key);
    if (r.code !== 0) failed(`Cannot remove a key from ${device}`, r);
  }
}

/** Keys are random bytes from the KMS or the RNG; an empty key would be a programming error or an attack. */
function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length < 16 || key.length > 512) {
    throw new DiskError("INVALID_KEY", "Refusing a LUKS key", {
      expected: "16 to 512 bytes",
      actual: key instanceof Uint8Array ? `${key.length} bytes` : typeof key,
    });
  }
}

/** The device-mapper step on a host without device-mapper: says so instead of pretending. */
export const noDeviceMapper: DeviceMapper = {
  open(device) {
    return Promise.reject(
      new DiskError("MAPPING_UNAVAILABLE", `Cannot open a mapping for ${device}`, {
        expected: "device-mapper (a VM guest)",
        actual: "no /dev/mapper/control on this host",
      }),
    );
  },
  close(name) {
    return Promise.reject(
      new DiskError("MAPPING_UNAVAILABLE", `Cannot close mapping ${name}`, {
        expected: "device-mapper",
        actual: "none",
      }),
    );
  },
};

/** dm-crypt through `cryptsetup open`/`close`, for VM guests. */
export function cryptsetupMapper(cs: CryptsetupRunner): DeviceMapper {
  return {
    async open(device, name, key) {
      checkKey(key);
      const r = await cs.run(["open", "--type", "luks2", "--key-file", "-", device, name], key);
      if (r.code !== 0) failed(`Cannot open ${device} as ${name}`, r);
      return `/dev/mapper/${name}`;
    },
    async close(name) {
      const r = await cs.run(["close", name]);
      if (r.code !== 0) failed(`Cannot close ${name}`, r);
    },
  };
}
