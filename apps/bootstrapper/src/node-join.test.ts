// The join and rejoin clients of node.ts against a real aTLS listener (client-attested, as the
// JoinService) whose pending-attestation bound is 1 and held: the node hears BUSY, keeps retrying with
// its capped, jittered backoff, logs each retry as `reason: "busy"`, and gets its ticket once the slot
// frees; evidence the policy rejects ends the client after one attempt (JOIN_REFUSED / REJOIN_REFUSED),
// long before its deadline. Software evidence (the protocol, framing and verdicts are the real ones); the
// node lock is held by "another flow", so the test stops right after the ticket (no TPM, no disk).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AtlsServer, serveAttested } from "@asterism/atls";
import type { Issuer, Validator } from "@asterism/attestation";
import type { KubernetesInstaller } from "@asterism/kubeadm";
import type { NodeLock } from "@asterism/lifecycle";
import type { MetadataClient } from "@asterism/metadata";
import { createMemoryLogger } from "@asterism/service";
import { createSoftwareAttester, type SoftwareAttester } from "@asterism/testing";
import { createNode } from "./node.ts";
import type { Status } from "./node-files.ts";
import type { DiskState, StateDisk } from "./state-disk.ts";

const DISK = "12345678-1234-1234-1234-123456789abc";
const b64 = (n: number, fill: number) => Buffer.from(new Uint8Array(n).fill(fill)).toString("base64");
const JOIN_TICKET = {
  diskKey: b64(32, 1),
  measurementSecret: b64(32, 2),
  measurementSalt: b64(32, 3),
  kubeletCert: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
  apiServerEndpoint: "127.0.0.1:6443",
  token: "abcdef.0123456789abcdef",
  caCertHashes: [`sha256:${"ab".repeat(32)}`],
  controlPlaneFiles: [],
  kubernetesVersion: "",
  kubernetesComponents: [],
};
const REJOIN_TICKET = { diskKey: b64(32, 1), measurementSecret: b64(32, 2) };

let node: SoftwareAttester;
let stranger: SoftwareAttester;
const servers: AtlsServer[] = [];

beforeAll(async () => {
  node = await createSoftwareAttester();
  stranger = await createSoftwareAttester({ measurements: { 4: "44".repeat(32) } });
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

/** A JoinService stand-in: a real aTLS listener with a bound of 1 pending attestation; the first validation can be held. */
async function joinService(opts: { holdFirst: boolean }) {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let held = false;
  let started = 0;
  const inner = node.validator();
  const validator: Validator = {
    variant: inner.variant,
    validate: async (document, nonce) => {
      started++;
      if (opts.holdFirst && started === 1) {
        held = true;
        await gate;
      }
      return inner.validate(document, nonce);
    },
  };
  const rejected: string[] = [];
  const server = await serveAttested(
    {
      fetch: (req: Request) =>
        Response.json(new URL(req.url).pathname === "/v1/rejoin" ? REJOIN_TICKET : JOIN_TICKET),
    },
    {
      mode: "client-attested",
      validators: [validator],
      maxPendingAttestations: 1,
      onRejected: (e) => rejected.push(e.code),
    },
  );
  servers.push(server);
  return {
    url: `https://127.0.0.1:${server.port}`,
    rejected,
    held: () => held,
    release: () => release(),
  };
}

function testNode(opts: { endpoint: string; issuer: Issuer; diskState: DiskState }) {
  const logger = createMemoryLogger();
  const statuses: Status[] = [];
  const lock = { holder: "init", tryActivate: async () => false } as unknown as NodeLock;
  const n = createNode({
    tpm: {} as never,
    issuer: opts.issuer,
    identity: { name: "worker-0", role: "worker", ips: ["127.0.0.1"] },
    lock,
    disk: { testKey: async () => true } as unknown as StateDisk,
    diskState: opts.diskState,
    installer: {} as KubernetesInstaller,
    applyManifests: async () => ({ objects: 0 }),
    metadata: {
      instances: async () => [
        { name: "cp-0", role: "control-plane", ips: ["127.0.0.1"], endpoints: { join: opts.endpoint } },
      ],
    } as unknown as MetadataClient,
    initSecret: undefined,
    runDir: "/nonexistent",
    pkiDir: "/nonexistent",
    backoff: { baseMs: 10, capMs: 40 },
    joinTimeoutMs: 60_000,
    logger,
    now: () => new Date(),
    onStatus: (s) => statuses.push(s),
  });
  n.activated.catch(() => undefined);
  const events = (msg: string) => logger.lines.filter((l) => l.msg === msg);
  return { node: n, statuses, events };
}

async function until(f: () => boolean) {
  for (let i = 0; i < 300 && !f(); i++) await Bun.sleep(10);
  expect(f()).toBe(true);
}

const fresh: DiskState = { kind: "fresh", uuid: DISK };
const initialized: DiskState = {
  kind: "initialized",
  uuid: DISK,
  measurementSalt: new Uint8Array(32).fill(3),
  role: "worker",
};

describe.each([
  { flow: "join" as const, diskState: fresh, run: (n: ReturnType<typeof createNode>) => n.join() },
  { flow: "rejoin" as const, diskState: initialized, run: (n: ReturnType<typeof createNode>) => n.rejoin() },
])("$flow client", ({ flow, diskState, run }) => {
  test("BUSY from a JoinService at its pending bound is retried, counted and logged as busy, then succeeds", async () => {
    const js = await joinService({ holdFirst: true });
    // Another node takes the only slot and keeps it.
    const other = testNode({ endpoint: js.url, issuer: node.issuer, diskState });
    const otherDone = run(other.node);
    await until(js.held);

    const t = testNode({ endpoint: js.url, issuer: node.issuer, diskState });
    const done = run(t.node);
    await until(() => t.events(`${flow}.retry`).length >= 3);
    js.release();
    await Promise.all([done, otherDone]);

    const retries = t.events(`${flow}.retry`);
    expect(retries.every((l) => l.reason === "busy")).toBe(true);
    expect(retries.at(-1)?.busy).toBe(retries.length);
    expect(js.rejected.filter((c) => c === "BUSY").length).toBe(retries.length);
    // It got its ticket: only the (held) node lock stopped it.
    expect(t.events(flow === "join" ? "join.lost_to_other_flow" : `${flow}.gave_up`).length).toBe(
      flow === "join" ? 1 : 0,
    );
    expect(t.statuses.some((s) => s.phase === "failed")).toBe(false);
  });

  test("evidence the policy rejects fails fast: one attempt, status failed with the REFUSED code", async () => {
    const js = await joinService({ holdFirst: false });
    const t = testNode({ endpoint: js.url, issuer: stranger.issuer, diskState });
    const t0 = performance.now();
    await run(t.node);
    expect(performance.now() - t0).toBeLessThan(5_000); // the deadline is 60 s
    expect(t.events(`${flow}.retry`)).toEqual([]);
    expect(js.rejected).toEqual(["EVIDENCE_REJECTED"]);
    expect(t.statuses.at(-1)).toMatchObject({ phase: "failed", error: `${flow.toUpperCase()}_REFUSED` });
    expect(t.events(`${flow}.gave_up`)[0]).toMatchObject({ busy: 0, unavailable: 0, transient: 0 });
  });
});
