/**
 * `asterism owner propose|pending` and `asterism audit verify|export` without a browser: a log is built
 * with a software authenticator through the public @asterism/owner API, then checked by the commands.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  approvalFromAssertion,
  changeDigest,
  createAuditEntry,
  createChange,
  OwnerStore,
  registrationOptions,
  verifyRegistration,
} from "@asterism/owner";
import { openSqliteState } from "@asterism/state";
import { createSoftwareAuthenticator } from "@asterism/testing";
import { memoryIo } from "../../io.ts";
import { runCli } from "../../runner.ts";
import { writeState } from "../../workspace/state.ts";
import { rootCommand } from "../index.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-owner-cli-"));
const db = join(dir, "state.db");
const RP = { id: "localhost", origins: ["http://localhost"] };
let anchor = "";
let logFile = "";

async function run(argv: string[]) {
  const io = memoryIo();
  const code = await runCli(rootCommand, argv, io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

beforeAll(async () => {
  const auth = createSoftwareAuthenticator({ rpId: "localhost", origin: "http://localhost:5000" });
  const challenge = new Uint8Array(randomBytes(32));
  const options = await registrationOptions({
    rp: RP,
    ownerName: "alice",
    userId: new Uint8Array(16),
    challenge,
  });
  const { response, passkey } = auth.register(options);
  const credential = await verifyRegistration({ response, challenge, rp: RP });
  const now = new Date();
  const genesis = createChange({
    clusterId: "3c".repeat(32),
    head: undefined,
    kind: "genesis",
    payload: { owners: [{ name: "alice", credentials: [credential] }], threshold: 1, rp: RP },
    now,
  });
  const state = openSqliteState(db);
  const store = new OwnerStore(state);
  const sign = (c: Parameters<typeof changeDigest>[0]) =>
    approvalFromAssertion(auth.assert(passkey, changeDigest(c)));
  const g = await store.commit(createAuditEntry(genesis, [sign(genesis)]), undefined, now);
  anchor = g.hash;
  const log = await store.verifiedLog({ anchor });
  const policy = createChange({
    clusterId: "3c".repeat(32),
    head: log!.state.head,
    kind: "attestation-policy",
    payload: { policy: { measurements: { "4": { expected: "44".repeat(32), warnOnly: false } } } },
    now,
  });
  await store.commit(createAuditEntry(policy, [sign(policy)]), log!.state, now);
  state.close();
  const exported = await run(["audit", "export", "--state", db]);
  expect(exported.code).toBe(0);
  logFile = join(dir, "log.json");
  writeFileSync(logFile, exported.out);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("asterism audit verify", () => {
  test("a valid log with its anchor → exit 0", async () => {
    const r = await run(["audit", "verify", logFile, "--anchor", anchor, "-o", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      valid: true,
      entries: 2,
      genesis: anchor,
      anchorPinned: true,
      policyApprovedIn: 1,
    });
  });
  test("from the state file; without an anchor it warns", async () => {
    const r = await run(["audit", "verify", "--state", db]);
    expect(r.code).toBe(0);
    expect(r.out).toStartWith("valid: 2 entries");
    expect(r.err).toContain("not pinned");
  });
  test.each([
    ["another anchor", (t: string) => t, ["--anchor", "ab".repeat(32)], "ANCHOR_MISMATCH"],
    [
      "a tampered measurement",
      (t: string) => t.replace("44".repeat(32), "45".repeat(32)),
      [],
      "ENTRY_INVALID",
    ],
    [
      "an entry removed",
      (t: string) => JSON.stringify({ ...JSON.parse(t), entries: JSON.parse(t).entries.slice(1) }),
      [],
      "CHAIN_BROKEN",
    ],
    [
      "a non-canonical hex spelling",
      (t: string) => t.replace("44".repeat(32), `${"44".repeat(31)}4A`),
      [],
      "INVALID_SCHEMA",
    ],
  ])("%s → exit 1", async (_n, mutate, extra, code) => {
    const f = join(dir, `bad-${code}.json`);
    writeFileSync(f, mutate(await Bun.file(logFile).text()));
    const r = await run(["audit", "verify", f, ...extra, "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ valid: false, code });
  });
  test.each([
    ["no log named", []],
    ["two logs named", ["x.json", "--state", "y.db"]],
    ["a file that is not JSON", ["/etc/hostname"]],
    ["a bad anchor", ["x.json", "--anchor", "zz"]],
  ])("%s → exit 2", async (_n, args) => {
    expect((await run(["audit", "verify", ...args])).code).toBe(2);
  });
});

describe("asterism owner propose / pending", () => {
  test("a policy change is proposed and listed with its trust diff", async () => {
    const payload = join(dir, "p.json");
    writeFileSync(
      payload,
      JSON.stringify({ policy: { measurements: { "4": { expected: "44".repeat(32), warnOnly: true } } } }),
    );
    const r = await run([
      "owner",
      "propose",
      "--state",
      db,
      "--anchor",
      anchor,
      "--kind",
      "attestation-policy",
      "--payload",
      payload,
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/! widens +measurement 4: 4{64} → 4{64} \(warn only\)/);
    const p = await run(["owner", "pending", "--state", db, "--anchor", anchor, "--json"]);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.out).pending[0]).toMatchObject({
      kind: "attestation-policy",
      sequence: 2,
      status: "0/1 owners",
      widensTrust: true,
    });
  });
  test.each([
    ["an owner change (enroll does that)", ["--kind", "owner-change"]],
    ["an unknown kind", ["--kind", "nope"]],
    ["an invalid payload", ["--kind", "node-revocation"]],
  ])("%s → exit 2", async (_n, args) => {
    const payload = join(dir, "bad.json");
    writeFileSync(payload, JSON.stringify({ nodes: ["Not A DNS Name"], reason: "x" }));
    expect((await run(["owner", "propose", "--state", db, "--payload", payload, ...args])).code).toBe(2);
  });
  test("the services' state spec works too (sqlite:<path>)", async () => {
    expect((await run(["owner", "pending", "--state", `sqlite:${db}`, "--anchor", anchor])).code).toBe(0);
    expect((await run(["owner", "pending", "--state", "kube:/nonexistent/kubeconfig"])).code).toBe(2);
  });
  test("a missing state file → exit 2", async () => {
    expect((await run(["owner", "pending", "--state", join(dir, "nope.db")])).code).toBe(2);
  });
});

describe("the workspace's pinned anchor and cluster state are the defaults (init --owner, mini up --owner)", () => {
  const workspace = (anchorHex: string) => {
    const ws = mkdtempSync(join(dir, "ws-"));
    writeState(join(ws, "asterism-state.yaml"), {
      version: "v1",
      infrastructure: { uid: "00", name: "t", clusterState: `sqlite:${db}` },
      clusterValues: { clusterID: "3c".repeat(32), measurementSalt: "00".repeat(32), ownerAnchor: anchorHex },
    });
    return ws;
  };
  test("audit verify and owner pending need no flags", async () => {
    const ws = workspace(anchor);
    const v = await run(["audit", "verify", "-C", ws, "--json"]);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ valid: true, genesis: anchor, anchorPinned: true });
    expect((await run(["owner", "pending", "-C", ws, "--json"])).code).toBe(0);
  });
  test("a workspace pinning another anchor → exit 1 ANCHOR_MISMATCH; --anchor still overrides it", async () => {
    const ws = workspace("ab".repeat(32));
    const v = await run(["audit", "verify", "-C", ws, "--json"]);
    expect(v.code).toBe(1);
    expect(JSON.parse(v.out)).toMatchObject({ valid: false, code: "ANCHOR_MISMATCH" });
    expect((await run(["audit", "verify", "-C", ws, "--anchor", anchor])).code).toBe(0);
  });
});
