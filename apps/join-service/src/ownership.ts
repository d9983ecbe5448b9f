import { fromUtf8, toHex, utf8 } from "@asterism/bytes";
import { STATE_OBJECTS } from "@asterism/lifecycle";
import { type ClusterState, StateError } from "@asterism/state";
import { JoinServiceError } from "./errors.ts";

/** Who owns a disk: the attested node name and the SHA-256 of its attestation key. */
export interface DiskOwner {
  readonly nodeName: string;
  readonly akSpkiSha256: string;
  readonly role: string;
}

/**
 * Disk ownership in cluster state (config `asterism-disk-owner-<uuid>`), closing Constellation's
 * rejoin hole (reference §11 item 7): the first node that receives a disk's key becomes its owner through
 * a create-if-absent write — of two racing nodes exactly one wins — and afterwards only that owner (same
 * attested name AND same attestation key, i.e. the same TPM) gets that disk's key again.
 */
export function createDiskOwnership(state: ClusterState, now: () => Date) {
  const name = (uuid: string) => `${STATE_OBJECTS.diskOwnerPrefix}${uuid}`;
  const same = (data: Readonly<Record<string, Uint8Array>>, o: DiskOwner) =>
    fromUtf8(data["nodeName"] ?? new Uint8Array()) === o.nodeName &&
    fromUtf8(data["akSpkiSha256"] ?? new Uint8Array()) === o.akSpkiSha256;
  const refuse = (uuid: string) =>
    new JoinServiceError("DISK_OWNED_BY_OTHER_NODE", "Refusing the key of another node's disk", {
      expected: "the disk's first owner",
      actual: `disk ${uuid} belongs to another node`,
    });

  return {
    /** First join: record `owner` unless the disk has one; the same owner again is fine (retries). */
    async claim(uuid: string, owner: DiskOwner): Promise<"created" | "existing"> {
      const data = {
        nodeName: utf8(owner.nodeName),
        akSpkiSha256: utf8(owner.akSpkiSha256),
        role: utf8(owner.role),
        createdAt: utf8(now().toISOString()),
      };
      try {
        await state.create("config", name(uuid), data, { "asterism.dev/disk-owner": "true" });
        return "created";
      } catch (err) {
        if (!(err instanceof StateError && err.code === "ALREADY_EXISTS")) throw err;
      }
      const cur = await state.get("config", name(uuid));
      if (cur === undefined || !same(cur.data, owner)) throw refuse(uuid);
      return "existing";
    },
    /** Rejoin: the disk must have been claimed, by `owner`. */
    async check(uuid: string, owner: DiskOwner): Promise<void> {
      const cur = await state.get("config", name(uuid));
      if (cur === undefined)
        throw new JoinServiceError("DISK_UNKNOWN", "Refusing rejoin for a disk that never joined", {
          actual: `disk ${uuid}`,
        });
      if (!same(cur.data, owner)) throw refuse(uuid);
    },
  };
}

/** SHA-256 of an attestation key's SPKI (hex), from the validator's `akSpki` detail (hex DER). */
export async function ownerKeyOf(details: Readonly<Record<string, unknown>>): Promise<string> {
  const spki = details["akSpki"];
  if (typeof spki !== "string" || !/^[0-9a-f]+$/.test(spki))
    throw new JoinServiceError("OWNER_KEY_MISSING", "Cannot bind disk ownership", {
      expected: "evidence naming its attestation key",
    });
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", Buffer.from(spki, "hex"))));
}
