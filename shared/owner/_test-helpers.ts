/**
 * Test fixtures for the owner module: owners with software passkeys, a genesis entry, and helpers to
 * approve changes. Test-only (imported by *.test.ts files).
 */
import { randomBytes } from "node:crypto";
import {
  createSoftwareAuthenticator,
  type SoftwareAuthenticator,
  type SoftwarePasskey,
} from "@asterism/testing";
import { type Approval, approvalFromAssertion } from "./approval.ts";
import type { ApprovedState } from "./approved-state.ts";
import { type AuditEntry, applyAuditEntry, createAuditEntry } from "./audit-log.ts";
import {
  type Change,
  type ChangeKind,
  changeDigest,
  createChange,
  type Owner,
  type PayloadOf,
  type RelyingParty,
} from "./change.ts";
import { registrationOptions, verifyRegistration } from "./enrollment.ts";

export const CLUSTER_ID = "c1".repeat(32);
export const ORIGIN = "http://localhost:41234";
export const RP: RelyingParty = { id: "localhost", origins: ["http://localhost"] };
/** A state disk and a node's recovery nonce, for recovery changes. */
export const DISK = "0b5e9f3c-2d41-4e6a-9b7c-5a1f2e3d4c5b";
export const NONCE = "9e".repeat(32);
/** The pinned clock of these tests. */
export const NOW = new Date("2026-11-25T10:00:00Z");

export const POLICY_A = {
  variants: ["qemu-vtpm"],
  measurements: {
    "4": { expected: "44".repeat(32), warnOnly: false },
    "9": { expected: "99".repeat(32), warnOnly: false },
    "12": { expected: "12".repeat(32), warnOnly: true },
  },
};
export const POLICY_B = {
  variants: ["qemu-vtpm", "azure-sev-snp"],
  measurements: {
    "4": { expected: "45".repeat(32), warnOnly: false },
    "9": { expected: "99".repeat(32), warnOnly: true },
  },
};

/** A cluster's owners and their passkeys. */
export interface Fixture {
  readonly auth: SoftwareAuthenticator;
  readonly owners: Owner[];
  readonly passkeys: Map<string, SoftwarePasskey[]>;
  readonly genesis: AuditEntry;
  state: ApprovedState;
  readonly entries: AuditEntry[];
}

/** Register a passkey through the real enrollment path (options → software authenticator → verify). */
export async function registerPasskey(auth: SoftwareAuthenticator, ownerName: string, label?: string) {
  const challenge = new Uint8Array(randomBytes(32));
  const options = await registrationOptions({
    rp: RP,
    ownerName,
    userId: new Uint8Array(randomBytes(16)),
    challenge,
  });
  const { response, passkey } = auth.register(options);
  const credential = await verifyRegistration({ response, challenge, rp: RP, ...(label ? { label } : {}) });
  return { credential, passkey };
}

/** Sign a change with a passkey. */
export function approve(auth: SoftwareAuthenticator, passkey: SoftwarePasskey, change: Change): Approval {
  return approvalFromAssertion(auth.assert(passkey, changeDigest(change)));
}

/** Owners with `perOwner` passkeys each, a verified genesis entry, and the state after it. */
export async function createFixture(names: string[], threshold: number, perOwner = 1): Promise<Fixture> {
  const auth = createSoftwareAuthenticator({ rpId: "localhost", origin: ORIGIN });
  const owners: Owner[] = [];
  const passkeys = new Map<string, SoftwarePasskey[]>();
  for (const name of names) {
    const creds = [];
    const keys = [];
    for (let i = 0; i < perOwner; i++) {
      const { credential, passkey } = await registerPasskey(auth, name, `${name} key ${i}`);
      creds.push(credential);
      keys.push(passkey);
    }
    owners.push({ name, credentials: creds });
    passkeys.set(name, keys);
  }
  const change = createChange({
    clusterId: CLUSTER_ID,
    head: undefined,
    kind: "genesis",
    payload: { owners, threshold, rp: RP },
    now: NOW,
  });
  const approvals = [...passkeys.values()].flat().map((p) => approve(auth, p, change));
  const genesis = createAuditEntry(change, approvals);
  const state = await applyAuditEntry(undefined, genesis, { now: NOW });
  return { auth, owners, passkeys, genesis, state, entries: [genesis] };
}

/** The first passkey of an owner. */
export function key(f: Fixture, owner: string, i = 0): SoftwarePasskey {
  const k = f.passkeys.get(owner)?.[i];
  if (!k) throw new Error(`no passkey ${i} for ${owner}`);
  return k;
}

/** A change of `kind` following the fixture's head. */
export function next<K extends ChangeKind>(f: Fixture, kind: K, payload: PayloadOf<K>, now = NOW) {
  return createChange({ clusterId: CLUSTER_ID, head: f.state.head, kind, payload, now });
}

/** Approve `change` by the first passkey of each named owner, append it, and advance the fixture. */
export async function commit(f: Fixture, change: Change, by: string[]): Promise<AuditEntry> {
  const entry = createAuditEntry(
    change,
    by.map((o) => approve(f.auth, key(f, o), change)),
  );
  f.state = await applyAuditEntry(f.state, entry, { now: NOW });
  f.entries.push(entry);
  return entry;
}
