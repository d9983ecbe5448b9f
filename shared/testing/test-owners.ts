/**
 * Cluster owners for service tests: software passkeys enrolled through @asterism/owner's real
 * enrollment path, a genesis entry in the given cluster state, and `approve(kind, payload)` to append a
 * fully approved change. For tests of services that must act only on approved changes (JoinService,
 * KMS); the owner module's own tests build their logs step by step.
 */
import { randomBytes } from "node:crypto";
import {
  type AuditEntry,
  approvalFromAssertion,
  type Change,
  type ChangeKind,
  changeDigest,
  createAuditEntry,
  createChange,
  type Owner,
  OwnerStore,
  type PayloadOf,
  registrationOptions,
  verifyRegistration,
} from "@asterism/owner";
import type { ClusterState } from "@asterism/state";
import { createSoftwareAuthenticator, type SoftwarePasskey } from "./software-authenticator.ts";

/** Owners enrolled in a cluster state. */
export interface TestOwners {
  /** Hash of the genesis entry: what services pin. */
  readonly anchor: string;
  readonly clusterId: string;
  /** Owner names, in enrollment order (`owner-0`, `owner-1`, …). */
  readonly owners: readonly Owner[];
  /**
   * Append a change of `kind` approved by every owner (or the owners at the indexes in `by`, which
   * may include owners the log has removed: the commit then fails with the owner module's error).
   * Returns its audit sequence.
   */
  approve<K extends Exclude<ChangeKind, "genesis">>(
    kind: K,
    payload: PayloadOf<K>,
    opts?: { by?: readonly number[] },
  ): Promise<number>;
  /**
   * An entry for a change of `kind` after the current head (or after `head`, to build on an older copy
   * of the log), signed by `by` (default: all), NOT appended.
   */
  sign<K extends Exclude<ChangeKind, "genesis">>(
    kind: K,
    payload: PayloadOf<K>,
    opts?: { by?: readonly number[]; head?: { sequence: number; hash: string } },
  ): Promise<AuditEntry>;
}

/**
 * Enroll `count` owners (one passkey each, threshold = count unless given) into `state`.
 *
 * @example
 * const owners = await createTestOwners(state);
 * await owners.approve("attestation-policy", { policy: { measurements: { "4": { expected: "…", warnOnly: false } } } });
 */
export async function createTestOwners(
  state: ClusterState,
  opts: { count?: number; clusterId?: string; threshold?: number } = {},
): Promise<TestOwners> {
  const rp = { id: "localhost", origins: ["http://localhost"] };
  const auth = createSoftwareAuthenticator({ rpId: "localhost", origin: "http://localhost:7000" });
  const clusterId = opts.clusterId ?? "ab".repeat(32);
  const owners: Owner[] = [];
  const keys: SoftwarePasskey[] = [];
  for (let i = 0; i < (opts.count ?? 1); i++) {
    const challenge = new Uint8Array(randomBytes(32));
    const name = `owner-${i}`;
    const { response, passkey } = auth.register(
      await registrationOptions({ rp, ownerName: name, userId: new Uint8Array(randomBytes(16)), challenge }),
    );
    owners.push({ name, credentials: [await verifyRegistration({ response, challenge, rp })] });
    keys.push(passkey);
  }
  const store = new OwnerStore(state);
  const signAll = (c: Change) => keys.map((k) => approvalFromAssertion(auth.assert(k, changeDigest(c))));
  const signBy = (c: Change, by: readonly number[] | undefined) =>
    by === undefined
      ? signAll(c)
      : by.map((i) => {
          const k = keys[i];
          if (!k) throw new Error(`no owner ${i}`);
          return approvalFromAssertion(auth.assert(k, changeDigest(c)));
        });
  const genesis = createChange({
    clusterId,
    head: undefined,
    kind: "genesis",
    payload: { owners, threshold: opts.threshold ?? owners.length, rp },
    now: new Date(),
  });
  const { hash: anchor } = await store.commit(
    createAuditEntry(genesis, signAll(genesis)),
    undefined,
    new Date(),
  );
  const build = async (
    kind: ChangeKind,
    payload: unknown,
    by: readonly number[] | undefined,
    head?: { sequence: number; hash: string },
  ) => {
    const log = await store.verifiedLog({ anchor });
    if (!log) throw new Error("no audit log");
    const c = createChange({
      clusterId,
      head: head ?? log.state.head,
      kind,
      payload,
      now: new Date(),
    } as Parameters<typeof createChange>[0]);
    return { entry: createAuditEntry(c, signBy(c, by)), log };
  };
  return {
    anchor,
    clusterId,
    owners,
    async approve(kind, payload, o = {}) {
      const { entry, log } = await build(kind, payload, o.by);
      return (await store.commit(entry, log.state, new Date())).sequence;
    },
    async sign(kind, payload, o = {}) {
      return (await build(kind, payload, o.by, o.head)).entry;
    },
  };
}
