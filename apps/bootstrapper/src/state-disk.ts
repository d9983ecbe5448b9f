import { type OwnerPinWire, OwnerPinWireSchema } from "@asterism/api";
import { fromBase64, toBase64, wipe } from "@asterism/bytes";
import { type DeviceMapper, DiskError, type Luks2 } from "@asterism/disk";
import type { Logger } from "@asterism/service";
import * as v from "valibot";
import { readOptional, removeQuietly, writeAtomic } from "./node-files.ts";
import type { MountReason, StateMount } from "./state-mount.ts";

/** LUKS2 token type marking the state disk (Constellation: `constellation-state-disk`). */
export const STATE_DISK_TOKEN_TYPE = "asterism-state-disk";
/** The dm-crypt mapping name (Constellation's `state`). */
export const STATE_MAPPING = "state";

/** What the node found on its state disk at boot. */
export type DiskState =
  | { readonly kind: "fresh"; readonly uuid: string }
  | {
      readonly kind: "initialized";
      readonly uuid: string;
      readonly measurementSalt: Uint8Array;
      readonly role: string;
      /** The cluster's owners, recorded at init or join (docs/owner.md "Recovery"); absent without owners. */
      readonly owner?: OwnerPinWire;
    };

/** Dependencies of {@link createStateDisk}. */
export interface StateDiskDeps {
  readonly luks: Luks2;
  readonly mapper: DeviceMapper;
  readonly device: string;
  /** Where the first-boot passphrase lives until the ticket's key replaces it (`$RUN_DIR/state.key`, tmpfs in a VM). */
  readonly bootKeyPath: string;
  readonly randomKey: () => Uint8Array;
  readonly logger: Logger;
  /**
   * The state file system (`ASTERISM_STATE_MOUNT`): made on first activation and mounted each time the
   * mapping opens. Without device-mapper there is no mapping, so nothing is mounted (and that is logged).
   */
  readonly mount?: StateMount;
}

/**
 * The node's LUKS2 state disk (reference §8, minus dm-integrity and the detached-header hardening, which need
 * device-mapper): formatted at first boot under a random passphrase, re-keyed with the key from the join
 * ticket (or derived at init / recovery), and marked initialized in a LUKS2 token that also keeps the
 * cluster's measurement salt (public) for rejoin and recovery.
 */
export function createStateDisk(deps: StateDiskDeps) {
  const { luks, device } = deps;
  const log = deps.logger.child({ component: "state-disk" });

  const format = async (): Promise<DiskState> => {
    const bootKey = deps.randomKey();
    try {
      await writeAtomic(deps.bootKeyPath, bootKey, 0o400);
      await luks.format(device, bootKey);
      await luks.writeToken(device, { type: STATE_DISK_TOKEN_TYPE, keyslots: [], initialized: false });
    } finally {
      wipe(bootKey);
    }
    const uuid = await luks.uuid(device);
    log.log("info", "disk.formatted", { uuid });
    return { kind: "fresh", uuid };
  };

  const map = async (key: Uint8Array, reason: MountReason): Promise<string | undefined> => {
    let mapped: string;
    try {
      mapped = await deps.mapper.open(device, STATE_MAPPING, key);
    } catch (err) {
      if (err instanceof DiskError && err.code === "MAPPING_UNAVAILABLE") {
        log.log("warn", "disk.mapping_unavailable", {
          reason: "no device-mapper on this host; the key was verified with --test-passphrase",
          ...(deps.mount ? { notMounted: deps.mount.mountPoint } : {}),
        });
        return undefined;
      }
      throw err;
    }
    log.log("info", "disk.mapped", { mapping: mapped, reason });
    await deps.mount?.prepare(mapped, reason);
    return mapped;
  };

  return {
    /** Look at the disk: initialized (rejoin/recovery), or fresh (formatting it first if needed). */
    async inspect(): Promise<DiskState> {
      if (!(await luks.isLuks(device))) return format();
      const token = await luks.readToken(device);
      const uuid = await luks.uuid(device);
      if (token?.["type"] === STATE_DISK_TOKEN_TYPE && token["initialized"] === true) {
        const salt =
          typeof token["measurementSalt"] === "string" ? fromBase64(token["measurementSalt"]) : undefined;
        if (salt === undefined || salt.length !== 32)
          throw new DiskError("NOT_LUKS", "The state disk is initialized but has no measurement salt", {
            expected: "a 32-byte measurementSalt in the LUKS2 token",
          });
        return {
          kind: "initialized",
          uuid,
          measurementSalt: salt,
          role: String(token["role"] ?? ""),
          ...ownerOf(token),
        };
      }
      // Not initialized: our first-boot key opens it if we restarted before activation; otherwise the
      // disk never held cluster data and is formatted afresh (Constellation's reset path).
      const bootKey = await readOptional(deps.bootKeyPath);
      if (bootKey !== undefined && bootKey.length >= 16 && (await luks.testKey(device, bootKey))) {
        wipe(bootKey);
        return { kind: "fresh", uuid };
      }
      log.log("warn", "disk.reformatting", { uuid, reason: "uninitialized disk without its first-boot key" });
      return format();
    },

    /** First activation (init or join): replace the first-boot passphrase by `diskKey`, mark initialized. */
    async activate(
      diskKey: Uint8Array,
      info: { measurementSalt: Uint8Array; role: string; owner?: OwnerPinWire | undefined },
    ): Promise<string | undefined> {
      const bootKey = await readOptional(deps.bootKeyPath);
      if (bootKey === undefined)
        throw new DiskError("WRONG_KEY", "Cannot re-key the state disk", {
          expected: "the first-boot key",
          actual: "none",
        });
      try {
        if (!(await luks.testKey(device, diskKey))) await luks.addKey(device, bootKey, diskKey);
        await luks.removeKey(device, bootKey);
      } finally {
        wipe(bootKey);
      }
      await luks.writeToken(device, {
        type: STATE_DISK_TOKEN_TYPE,
        keyslots: [],
        initialized: true,
        measurementSalt: toBase64(info.measurementSalt),
        role: info.role,
        ...(info.owner ? { owner: info.owner } : {}),
      });
      if (!(await luks.testKey(device, diskKey)))
        throw new DiskError("WRONG_KEY", "The new disk key does not open the state disk");
      await removeQuietly(deps.bootKeyPath);
      log.log("info", "disk.activated");
      return map(diskKey, "first-activation");
    },

    /** Rejoin / recovery: `diskKey` must open the disk (only then is it mapped). */
    async unlock(diskKey: Uint8Array): Promise<string | undefined> {
      if (!(await luks.testKey(device, diskKey)))
        throw new DiskError("WRONG_KEY", "The key does not open the state disk", {
          expected: "this disk's key",
        });
      log.log("info", "disk.unlocked");
      return map(diskKey, "unlock");
    },

    /** After a failure past the node lock: the next boot formats the disk again (Constellation's reset). */
    async markUninitialized(): Promise<void> {
      await luks.writeToken(device, { type: STATE_DISK_TOKEN_TYPE, keyslots: [], initialized: false });
    },

    /** True when `diskKey` opens the disk (recovery checks the master secret with it). */
    testKey: (diskKey: Uint8Array) => luks.testKey(device, diskKey),
  };
}

export type StateDisk = ReturnType<typeof createStateDisk>;

/**
 * The owners recorded in the token. A present but malformed record is an error, never "no owners": that
 * would turn a damaged (or edited) header into a recovery without approval.
 */
function ownerOf(token: Record<string, unknown>): { owner?: OwnerPinWire } {
  if (token["owner"] === undefined) return {};
  const r = v.safeParse(OwnerPinWireSchema, token["owner"]);
  if (!r.success)
    throw new DiskError("NOT_LUKS", "The state disk's owner record is malformed", {
      expected: "{anchor, head: {sequence, hash}} in the LUKS2 token",
      actual: r.issues[0].message,
    });
  return { owner: r.output };
}
