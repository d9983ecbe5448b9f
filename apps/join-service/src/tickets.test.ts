import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerAttestation } from "@asterism/atls";
import { fromBase64, fromUtf8, toHex } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import { type ClusterPki, generateClusterPki } from "@asterism/kubeadm";
import {
  createKubeletCsr,
  NODE_RECORD_PREFIX,
  type NodeIdentity,
  parseNodeRecord,
  STATE_OBJECTS,
  writeNodeRecord,
} from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { createMemoryLogger, MetricsRegistry } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import { createApp } from "./app.ts";
import { createMetadataCrossCheck } from "./cross-check.ts";
import { JoinServiceError } from "./errors.ts";
import type { TicketKeys } from "./keys.ts";
import { createDiskOwnership } from "./ownership.ts";
import { effectivePolicy } from "./policy.ts";
import { issueJoinTicket, issueRejoinTicket, type TicketDeps } from "./tickets.ts";
import { createStateTokenPublisher } from "./tokens.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-join-"));
const state = openSqliteState(join(dir, "state.db"));
const logger = createMemoryLogger();
const NOW = new Date();
let pki: ClusterPki;
let kmsDown = false;
const keys: TicketKeys = {
  measurementSecret: async () => new Uint8Array(32).fill(0x4d),
  diskKey: async (uuid) => {
    if (kmsDown) throw new JoinServiceError("KMS_UNAVAILABLE", "Cannot reach the KMS");
    return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(uuid)));
  },
};
let deps: TicketDeps;

const WORKER: NodeIdentity = { name: "worker-0", role: "worker", ips: ["127.0.0.1"] };
const CP: NodeIdentity = { name: "cp-0", role: "control-plane", ips: ["127.0.0.1"] };
const AK_A = "30".repeat(40);
const AK_B = "31".repeat(40);

function peer(id: NodeIdentity | undefined, akSpki = AK_A): PeerAttestation {
  return {
    variant: "qemu-vtpm",
    spkiDigest: new Uint8Array(32),
    nonce: new Uint8Array(32),
    claims: {
      variant: "qemu-vtpm",
      userData: new Uint8Array(32),
      measurements: {},
      warnings: [],
      details: { akSpki, ...(id ? { nodeIdentity: id } : {}) },
    },
  };
}

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    if (isAsterismError(e)) return e.code;
    throw e;
  }
  return undefined;
}

beforeAll(async () => {
  pki = await generateClusterPki();
  deps = {
    config: {
      require: () => ({
        ...effectivePolicy({ measurements: createMeasurements([]) }),
        measurementSalt: new Uint8Array(32).fill(0x5a),
        kubernetesVersion: "v1.31.13",
        components: [],
        validators: new Map(),
        revokedNodes: new Set(["worker-revoked"]),
        owner: { anchor: "a7".repeat(32), head: { sequence: 4, hash: "b8".repeat(32) } },
      }),
    },
    pki: () => pki,
    keys,
    ownership: createDiskOwnership(state, () => NOW),
    tokens: createStateTokenPublisher(state, () => NOW, logger),
    apiServerEndpoint: "127.0.0.1:6443",
    logger,
    nodeRecords: (r) => writeNodeRecord(state, r),
    now: () => NOW,
  };
}, 20_000);

afterAll(() => {
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

const tokenCount = async () =>
  (await state.list("secret")).filter((o) => o.name.startsWith("bootstrap-token-")).length;
const owner = async (n: number) => state.get("config", `${STATE_OBJECTS.diskOwnerPrefix}${uuid(n)}`);

describe("join tickets", () => {
  test("a worker gets its disk key, a kubelet cert for its attested name, a token Secret, no CA keys", async () => {
    const { csr } = await createKubeletCsr(WORKER);
    const t = await issueJoinTicket(deps, peer(WORKER), { diskUuid: uuid(1), csr, controlPlane: false });
    expect(fromBase64(t.diskKey)).toEqual(await keys.diskKey(uuid(1)));
    expect(t.controlPlaneFiles).toEqual([]);
    expect(t.token).toMatch(/^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    expect(t.caCertHashes[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(t.caCert).toContain("BEGIN CERTIFICATE");
    expect(t.kubeletCert).toContain("BEGIN CERTIFICATE");
    // The owners' anchor and head, for the node's recovery approvals (docs/owner.md "Recovery").
    expect(t.owner).toEqual({ anchor: "a7".repeat(32), head: { sequence: 4, hash: "b8".repeat(32) } });
    expect(fromUtf8((await owner(1))?.data["nodeName"] as Uint8Array)).toBe("worker-0");
    const secret = await state.get("secret", `bootstrap-token-${t.token.slice(0, 6)}`);
    expect(fromUtf8(secret?.data["token-secret"] as Uint8Array)).toBe(t.token.slice(7));
  });

  test("an attested control plane asking for control-plane files gets all eight", async () => {
    const { csr } = await createKubeletCsr(CP);
    const t = await issueJoinTicket(deps, peer(CP, AK_B), { diskUuid: uuid(2), csr, controlPlane: true });
    expect(t.controlPlaneFiles.map((f) => f.name).sort()).toEqual(
      [
        "ca.crt",
        "ca.key",
        "etcd/ca.crt",
        "etcd/ca.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "sa.key",
        "sa.pub",
      ].sort(),
    );
  });

  test("a worker asking for control-plane material is refused before anything is written", async () => {
    const tokens = await tokenCount();
    const { csr } = await createKubeletCsr(WORKER);
    expect(
      await codeOf(issueJoinTicket(deps, peer(WORKER), { diskUuid: uuid(3), csr, controlPlane: true })),
    ).toBe("ROLE_NOT_CONTROL_PLANE");
    expect(await owner(3)).toBeUndefined();
    expect(await tokenCount()).toBe(tokens);
  });

  test.each([
    {
      name: "CSR for another node's name",
      csrFor: { name: "cp-0", ips: ["127.0.0.1"] },
      code: "CSR_NAME_MISMATCH",
    },
    {
      name: "CSR for an IP not attested",
      csrFor: { name: "worker-0", ips: ["10.0.0.9"] },
      code: "CSR_IP_MISMATCH",
    },
  ])("refused: $name", async ({ csrFor, code }) => {
    const { csr } = await createKubeletCsr(csrFor);
    expect(
      await codeOf(issueJoinTicket(deps, peer(WORKER), { diskUuid: uuid(4), csr, controlPlane: false })),
    ).toBe(code);
    expect(await owner(4)).toBeUndefined();
  });

  test("another node asking for an owned disk's key is refused; the owner may retry", async () => {
    const other: NodeIdentity = { name: "worker-1", role: "worker", ips: ["127.0.0.1"] };
    const { csr } = await createKubeletCsr(other);
    expect(
      await codeOf(issueJoinTicket(deps, peer(other, AK_B), { diskUuid: uuid(1), csr, controlPlane: false })),
    ).toBe("DISK_OWNED_BY_OTHER_NODE");
    // Same name, different TPM (attestation key): also not the owner.
    const w = await createKubeletCsr(WORKER);
    expect(
      await codeOf(
        issueJoinTicket(deps, peer(WORKER, AK_B), { diskUuid: uuid(1), csr: w.csr, controlPlane: false }),
      ),
    ).toBe("DISK_OWNED_BY_OTHER_NODE");
    const again = await issueJoinTicket(deps, peer(WORKER), {
      diskUuid: uuid(1),
      csr: w.csr,
      controlPlane: false,
    });
    expect(fromBase64(again.diskKey)).toEqual(await keys.diskKey(uuid(1)));
  });

  test("a KMS outage after the disk was claimed loses nothing: the retry succeeds", async () => {
    const { csr } = await createKubeletCsr(WORKER);
    kmsDown = true;
    expect(
      await codeOf(issueJoinTicket(deps, peer(WORKER), { diskUuid: uuid(5), csr, controlPlane: false })),
    ).toBe("KMS_UNAVAILABLE");
    kmsDown = false;
    expect(await owner(5)).toBeDefined();
    const t = await issueJoinTicket(deps, peer(WORKER), { diskUuid: uuid(5), csr, controlPlane: false });
    expect(t.diskKey.length).toBeGreaterThan(0);
  });

  test("rejoin: only the recorded owner, only for a known disk", async () => {
    const r = await issueRejoinTicket(deps, peer(WORKER), uuid(1));
    expect(fromBase64(r.diskKey)).toEqual(await keys.diskKey(uuid(1)));
    expect(Object.keys(r).sort()).toEqual(["diskKey", "measurementSecret"]);
    expect(await codeOf(issueRejoinTicket(deps, peer(CP, AK_B), uuid(1)))).toBe("DISK_OWNED_BY_OTHER_NODE");
    expect(await codeOf(issueRejoinTicket(deps, peer(WORKER), uuid(99)))).toBe("DISK_UNKNOWN");
  });

  test("a node the owners revoked gets neither a join nor a rejoin ticket", async () => {
    const revoked: NodeIdentity = { name: "worker-revoked", role: "worker", ips: ["127.0.0.1"] };
    const { csr } = await createKubeletCsr(revoked);
    const tokens = await tokenCount();
    expect(
      await codeOf(
        issueJoinTicket(deps, peer(revoked, AK_B), { diskUuid: uuid(7), csr, controlPlane: false }),
      ),
    ).toBe("NODE_REVOKED");
    expect(await codeOf(issueRejoinTicket(deps, peer(revoked, AK_B), uuid(7)))).toBe("NODE_REVOKED");
    expect(await owner(7)).toBeUndefined();
    expect(await tokenCount()).toBe(tokens);
  });

  test("each ticket records the node's last attestation for the console (warn-only mismatches as warning)", async () => {
    const record = async (name: string) => {
      const o = await state.get("config", `${NODE_RECORD_PREFIX}${name}`);
      return o ? parseNodeRecord(o) : undefined;
    };
    expect(await record("worker-0")).toEqual({
      name: "worker-0",
      role: "worker",
      variant: "qemu-vtpm",
      lastAttestation: { at: NOW.toISOString(), status: "affirming" },
    });
    const cp2: NodeIdentity = { name: "cp-warn", role: "control-plane", ips: ["127.0.0.1"] };
    const p = peer(cp2, "32".repeat(40));
    const warned = { ...p, claims: { ...p.claims, warnings: ["PCR 12 differs (warn only)"] } };
    const { csr } = await createKubeletCsr(cp2);
    await issueJoinTicket(deps, warned, { diskUuid: uuid(8), csr, controlPlane: true });
    expect((await record("cp-warn"))?.lastAttestation).toMatchObject({
      status: "warning",
      warnings: ["PCR 12 differs (warn only)"],
    });
  });

  test("no attested identity: refused", async () => {
    const { csr } = await createKubeletCsr(WORKER);
    expect(
      await codeOf(issueJoinTicket(deps, peer(undefined), { diskUuid: uuid(6), csr, controlPlane: false })),
    ).toBe("IDENTITY_MISSING");
    expect(
      await codeOf(issueJoinTicket(deps, undefined, { diskUuid: uuid(6), csr, controlPlane: false })),
    ).toBe("IDENTITY_MISSING");
  });

  test("the owner key is SHA-256 of the AK's SPKI", async () => {
    const o = await owner(1);
    expect(fromUtf8(o?.data["akSpkiSha256"] as Uint8Array)).toBe(
      toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", Buffer.from(AK_A, "hex")))),
    );
  });

  test("the token Secret is purged once expired", async () => {
    const later = createStateTokenPublisher(state, () => new Date(NOW.getTime() + 16 * 60_000), logger);
    expect(await later.purgeExpired()).toBeGreaterThan(0);
    expect(await tokenCount()).toBe(0);
  });
});

describe("policy and cross-check", () => {
  test("PCR 16 is dropped and PCR 15 forced to 0", () => {
    const { policy, notes } = effectivePolicy({
      measurements: createMeasurements([
        [15, { expected: new Uint8Array(32).fill(1), warnOnly: true }],
        [16, { expected: new Uint8Array(32).fill(2) }],
        [4, { expected: new Uint8Array(32).fill(3) }],
      ]),
    });
    expect([...policy.measurements.keys()].sort()).toEqual([15, 4]);
    expect(policy.measurements.get(15)).toEqual({ expected: "0".repeat(64), warnOnly: false });
    expect(notes.length).toBe(2);
  });

  test("identity must match the metadata instance list", async () => {
    const check = createMetadataCrossCheck({
      instances: async () => [{ name: "worker-0", role: "worker", ips: ["127.0.0.1"], endpoints: {} }],
      self: async () => {
        throw new Error("unused");
      },
      putInstance: async () => {
        throw new Error("unused");
      },
      setInitSecretHash: async () => {},
      deleteInstance: async () => {},
    });
    await check(WORKER);
    expect(await codeOf(check({ ...WORKER, role: "control-plane" }))).toBe("IDENTITY_MISMATCH");
    expect(await codeOf(check({ ...WORKER, name: "worker-9" }))).toBe("IDENTITY_MISMATCH");
    expect(await codeOf(check({ ...WORKER, ips: ["127.0.0.2"] }))).toBe("IDENTITY_MISMATCH");
  });
});

describe("HTTP mapping", () => {
  test("status codes and bodies", async () => {
    const app = createApp({ ...deps, metrics: new MetricsRegistry(), ready: () => false });
    expect((await app.request("http://x/healthz")).status).toBe(200);
    expect((await app.request("http://x/readyz")).status).toBe(503);
    const bad = await app.request("http://x/v1/join", { method: "POST", body: '{"diskUuid": "x"}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("INVALID_REQUEST");
    const { csr } = await createKubeletCsr(WORKER);
    // Without aTLS there is no peer: refused.
    const noPeer = await app.request("http://x/v1/join", {
      method: "POST",
      body: JSON.stringify({
        diskUuid: uuid(7),
        csr: Buffer.from(csr).toString("base64"),
        controlPlane: false,
      }),
    });
    expect(noPeer.status).toBe(403);
    expect(((await noPeer.json()) as { error: { code: string } }).error.code).toBe("IDENTITY_MISSING");
    const m = await (await app.request("http://x/metrics")).text();
    expect(m).toContain('asterism_join_tickets_total{kind="join",result="IDENTITY_MISSING"} 1');
  });
});
