// Recovery of a node that recorded cluster owners (node.ts + recovery-approval.ts): the master secret is
// accepted only with the owners' approval of a recovery of this node's disk for a nonce it issued during
// this boot. Real swtpm (PCR 15), the owners' software passkeys through @asterism/owner's real paths;
// the disk is a fake that opens with the key the master secret derives.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OwnerPinWire } from "@asterism/api";
import type { Issuer } from "@asterism/attestation";
import { bytesEqual } from "@asterism/bytes";
import { deriveKey } from "@asterism/keys";
import type { KubernetesInstaller } from "@asterism/kubeadm";
import { bootLocalNode, localImage, NodeLock, type NodeTpm, openNodeTpm } from "@asterism/lifecycle";
import type { MetadataClient } from "@asterism/metadata";
import { type AuditEntry, OwnerStore, serializeAuditEntry } from "@asterism/owner";
import { createMemoryLogger } from "@asterism/service";
import { type ClusterState, openSqliteState } from "@asterism/state";
import { createTestOwners, type SwtpmInstance, startSwtpm, type TestOwners } from "@asterism/testing";
import { BootstrapperError } from "./errors.ts";
import { createNode } from "./node.ts";
import { approvalRefusalCode } from "./recovery-approval.ts";
import type { StateDisk } from "./state-disk.ts";

setDefaultTimeout(30_000);

const UUID = "0b5e9f3c-2d41-4e6a-9b7c-5a1f2e3d4c5b";
const MASTER = { key: new Uint8Array(32).fill(0x4d), salt: new Uint8Array(32).fill(0x53) };
const copy = () => ({ key: MASTER.key.slice(), salt: MASTER.salt.slice() });

let sw: SwtpmInstance;
let tpm: NodeTpm;
let diskKey: Uint8Array;
const dirs: string[] = [];
const states: (ClusterState & { close(): void })[] = [];

beforeAll(async () => {
  sw = await startSwtpm();
  await bootLocalNode(sw, localImage("node-recovery-test"));
  tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
  diskKey = await deriveKey({ secret: MASTER.key, salt: MASTER.salt, purpose: "diskKey", id: UUID });
});
afterAll(async () => {
  await tpm?.close().catch(() => undefined);
  await sw?.stop();
  for (const s of states) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A rebooted control plane with an initialized disk; each call is a new boot (fresh nonces). */
function boot(owner: OwnerPinWire | undefined, name = "cp-0") {
  const runDir = mkdtempSync(join(tmpdir(), "asterism-node-recovery-"));
  dirs.push(runDir);
  const disk = {
    unlocked: false,
    testKey: async (k: Uint8Array) => bytesEqual(k, diskKey),
    unlock: async () => {
      disk.unlocked = true;
    },
    markUninitialized: async () => {},
  };
  const logger = createMemoryLogger();
  const node = createNode({
    tpm,
    issuer: {} as Issuer,
    identity: { name, role: "control-plane", ips: ["127.0.0.1"] },
    lock: new NodeLock(),
    disk: disk as unknown as StateDisk,
    diskState: {
      kind: "initialized",
      uuid: UUID,
      measurementSalt: new Uint8Array(32).fill(7),
      role: "control-plane",
      ...(owner ? { owner } : {}),
    },
    installer: {} as KubernetesInstaller,
    applyManifests: async () => ({ objects: 0 }),
    metadata: {} as MetadataClient,
    initSecret: undefined,
    runDir,
    pkiDir: join(runDir, "pki"),
    backoff: { baseMs: 10, capMs: 20 },
    joinTimeoutMs: 1000,
    logger,
    now: () => new Date(),
    onStatus: () => {},
  });
  node.activated.catch(() => undefined);
  return { node, disk, logger };
}

/** Owners with an approved policy; the node recorded their anchor and head. */
async function cluster(opts: { count?: number; threshold?: number } = {}) {
  const state = openSqliteState(":memory:");
  states.push(state);
  const owners = await createTestOwners(state, { ...opts, clusterId: "c1".repeat(32) });
  await owners.approve("attestation-policy", {
    policy: { measurements: { "4": { expected: "44".repeat(32), warnOnly: false } } },
  });
  const store = new OwnerStore(state);
  const log = await store.verifiedLog({ anchor: owners.anchor });
  if (!log) throw new Error("no log");
  const pin: OwnerPinWire = { anchor: owners.anchor, head: log.state.head };
  return { state, owners, store, pin };
}

/** The request's `ownerApproval`: the stored log plus `recovery` (as JSON values, as the CLI sends them). */
async function approvalOf(store: OwnerStore, recovery: AuditEntry, over?: (e: unknown[]) => unknown[]) {
  const values = [...(await store.readEntries()), recovery].map(
    (e) => JSON.parse(new TextDecoder().decode(serializeAuditEntry(e))) as unknown,
  );
  return { entries: over ? over(values) : values };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason: string | undefined }> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof BootstrapperError)) throw err;
    return { code: err.code, reason: approvalRefusalCode(err) };
  }
  throw new Error("expected a refusal");
}

async function recoveryFor(owners: TestOwners, nonce: string, over: { node?: string; disk?: string } = {}) {
  return owners.sign("recovery", {
    node: over.node ?? "cp-0",
    disk: over.disk ?? UUID,
    nonce,
    reason: "every control plane lost power",
  });
}

describe("recovery with cluster owners", () => {
  test("the owners' approval for this node, disk and nonce + the master secret → recovered", async () => {
    const { owners, store, pin } = await cluster();
    const { node, disk, logger } = boot(pin);
    const ch = node.recoveryChallenge();
    expect(ch).toMatchObject({ node: "cp-0", diskUuid: UUID, owner: pin });
    const out = await node.recover(copy(), await approvalOf(store, await recoveryFor(owners, ch.nonce)));
    expect(out.clusterId).toMatch(/^[0-9a-f]{64}$/);
    expect(disk.unlocked).toBe(true);
    expect(logger.lines.find((l) => l["msg"] === "recovery.approved")?.["approvedBy"]).toBe("owner-0");
  });

  test("no approval → OWNER_APPROVAL_REQUIRED, the disk stays locked", async () => {
    const { pin } = await cluster();
    const { node, disk } = boot(pin);
    node.recoveryChallenge();
    expect((await refusal(node.recover(copy()))).code).toBe("OWNER_APPROVAL_REQUIRED");
    expect(disk.unlocked).toBe(false);
  });

  test.each([
    { name: "approval for another node → RECOVERY_TARGET_MISMATCH", over: { node: "cp-1" } },
    {
      name: "approval for another disk → RECOVERY_TARGET_MISMATCH",
      over: { disk: "11111111-2222-4333-8444-555555555555" },
    },
  ])("$name", async ({ over }) => {
    const { owners, store, pin } = await cluster();
    const { node, disk } = boot(pin);
    const ch = node.recoveryChallenge();
    const r = await refusal(
      node.recover(copy(), await approvalOf(store, await recoveryFor(owners, ch.nonce, over))),
    );
    expect(r).toEqual({ code: "OWNER_APPROVAL_INVALID", reason: "RECOVERY_TARGET_MISMATCH" });
    expect(disk.unlocked).toBe(false);
  });

  test("a replayed approval: after a failed attempt, and after a reboot → RECOVERY_NONCE_INVALID", async () => {
    const { owners, store, pin } = await cluster();
    const first = boot(pin);
    const ch = first.node.recoveryChallenge();
    const approval = await approvalOf(store, await recoveryFor(owners, ch.nonce));
    // A wrong master secret: the approval verified and its nonce is spent.
    const wrong = { key: new Uint8Array(32).fill(1), salt: MASTER.salt.slice() };
    expect((await refusal(first.node.recover(wrong, approval))).code).toBe("MASTER_SECRET_WRONG");
    expect(await refusal(first.node.recover(copy(), approval))).toEqual({
      code: "OWNER_APPROVAL_INVALID",
      reason: "RECOVERY_NONCE_INVALID",
    });
    // The next boot issued no such nonce.
    const second = boot(pin);
    second.node.recoveryChallenge();
    expect(await refusal(second.node.recover(copy(), approval))).toEqual({
      code: "OWNER_APPROVAL_INVALID",
      reason: "RECOVERY_NONCE_INVALID",
    });
    expect(second.disk.unlocked).toBe(false);
  });

  test("a tampered chain (the approved policy edited) → ENTRY_INVALID", async () => {
    const { owners, store, pin } = await cluster();
    const { node } = boot(pin);
    const ch = node.recoveryChallenge();
    const approval = await approvalOf(store, await recoveryFor(owners, ch.nonce), (values) =>
      JSON.parse(JSON.stringify(values).replace("44".repeat(32), "45".repeat(32))),
    );
    expect(await refusal(node.recover(copy(), approval))).toEqual({
      code: "OWNER_APPROVAL_INVALID",
      reason: "ENTRY_INVALID",
    });
  });

  test("approval by an owner the log removed → UNKNOWN_CREDENTIAL", async () => {
    const { owners, store, pin } = await cluster({ count: 2, threshold: 1 });
    const [kept] = owners.owners;
    if (!kept) throw new Error("fixture");
    await owners.approve("owner-change", { owners: [kept], threshold: 1 }, { by: [0] });
    const { node } = boot(pin);
    const ch = node.recoveryChallenge();
    const recovery = await owners.sign(
      "recovery",
      { node: "cp-0", disk: UUID, nonce: ch.nonce, reason: "outage" },
      { by: [1] },
    );
    expect(await refusal(node.recover(copy(), await approvalOf(store, recovery)))).toEqual({
      code: "OWNER_APPROVAL_INVALID",
      reason: "UNKNOWN_CREDENTIAL",
    });
  });

  test("an old copy of the log, below the head the node recorded → ROLLED_BACK", async () => {
    const { owners, store, pin } = await cluster();
    const old = await store.readEntries();
    await owners.approve("node-revocation", { nodes: ["worker-9"], reason: "stolen" });
    const log = await store.verifiedLog({ anchor: owners.anchor });
    if (!log) throw new Error("no log");
    const { node } = boot({ anchor: pin.anchor, head: log.state.head });
    const ch = node.recoveryChallenge();
    // A recovery approved on top of the copy from before the revocation the node knew about.
    const recovery = await owners.sign(
      "recovery",
      { node: "cp-0", disk: UUID, nonce: ch.nonce, reason: "outage" },
      { head: pin.head },
    );
    const values = [...old, recovery].map(
      (e) => JSON.parse(new TextDecoder().decode(serializeAuditEntry(e))) as unknown,
    );
    expect(await refusal(node.recover(copy(), { entries: values }))).toEqual({
      code: "OWNER_APPROVAL_INVALID",
      reason: "ROLLED_BACK",
    });
  });

  test("a node that recorded no owners recovers with the master secret alone (as before)", async () => {
    const { node, disk, logger } = boot(undefined);
    expect(node.recoveryChallenge().owner).toBeUndefined();
    await node.recover(copy(), { entries: [{}] });
    expect(disk.unlocked).toBe(true);
    expect(logger.lines.some((l) => l["msg"] === "recovery.approval_ignored")).toBe(true);
  });

  test("challenges are bounded: the oldest nonce expires first", async () => {
    const { owners, store, pin } = await cluster();
    const { node } = boot(pin);
    const first = node.recoveryChallenge();
    for (let i = 0; i < 16; i++) node.recoveryChallenge();
    const r = await refusal(
      node.recover(copy(), await approvalOf(store, await recoveryFor(owners, first.nonce))),
    );
    expect(r.reason).toBe("RECOVERY_NONCE_INVALID");
  });
});
