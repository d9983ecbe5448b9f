/**
 * `asterism init` / `apply` against an init endpoint stand-in: server-attested aTLS with a qemu-vtpm
 * document from a swtpm booted by the simulated firmware. The stand-in answers like the bootstrapper
 * (cluster ID derived from the request's secrets), so the CLI's own derivation check passes only when
 * the node used our secrets.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import "reflect-metadata";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_PATHS } from "@asterism/api";
import { serveAttested } from "@asterism/atls";
import { createQemuVtpmIssuer } from "@asterism/attestation";
import { fromBase64, toHex } from "@asterism/bytes";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, openSwtpm } from "@asterism/tpm";
import * as x509 from "@peculiar/x509";
import { Hono } from "hono";
import { defaultBootComponentBytes } from "../boot/components.ts";
import { runSimulatedFirmware } from "../boot/firmware.ts";
import { expectedClusterId } from "../cluster/init.ts";
import { memoryIo } from "../io.ts";
import { runCli } from "../runner.ts";
import { rootCommand } from "./index.ts";

x509.cryptoProvider.set(crypto);
const root = mkdtempSync(join(tmpdir(), "asterism-init-"));
const servers: { close(): Promise<void> }[] = [];
const tpms: { sw: SwtpmInstance; tpm: ClosableTpm }[] = [];
let requests = 0;

async function fakeInitEndpoint(tamperKernel: boolean, answerId?: Uint8Array): Promise<string> {
  const sw = await startSwtpm();
  const tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  tpms.push({ sw, tpm });
  const c = defaultBootComponentBytes("qemu-vtpm");
  const kernel = c.kernel.slice();
  if (tamperKernel) kernel[0] = (kernel[0] ?? 0) ^ 1;
  const log = await runSimulatedFirmware(tpm, { ...c, kernel });
  const app = new Hono();
  app.post(API_PATHS.init, async (ctx) => {
    requests++;
    const body = (await ctx.req.json()) as {
      masterSecret: { key: string; salt: string };
      measurementSalt: string;
    };
    const id =
      answerId ??
      (await expectedClusterId(
        { key: fromBase64(body.masterSecret.key), salt: fromBase64(body.masterSecret.salt) },
        fromBase64(body.measurementSalt),
      ));
    return ctx.json({
      clusterId: toHex(id),
      kubeconfig: "apiVersion: v1\nkind: Config\n",
      kubernetes: { performed: false, note: "local" },
    });
  });
  const s = await serveAttested(app, {
    mode: "server-attested",
    issuer: createQemuVtpmIssuer({ tpm, akAlg: "ecc", readEventLog: async () => log }),
  });
  servers.push(s);
  return `127.0.0.1:${s.port}`;
}

let good: string;
let tampered: string;
let liar: string;
beforeAll(async () => {
  [good, tampered, liar] = await Promise.all([
    fakeInitEndpoint(false),
    fakeInitEndpoint(true),
    fakeInitEndpoint(false, new Uint8Array(32).fill(9)),
  ]);
}, 30_000);
afterAll(async () => {
  for (const s of servers) await s.close();
  for (const t of tpms) {
    await t.tpm.close();
    await t.sw.stop();
  }
  rmSync(root, { recursive: true, force: true });
});

async function workspace(name: string): Promise<{ ws: string; secret: string }> {
  const ws = join(root, name);
  expect(await runCli(rootCommand, ["config", "generate", "qemu", "-C", ws], memoryIo())).toBe(0);
  const secret = join(ws, "init-secret");
  writeFileSync(secret, "correct horse battery staple");
  return { ws, secret };
}

async function cli(ws: string, ...argv: string[]) {
  const io = memoryIo({}, ws);
  const code = await runCli(rootCommand, [...argv, "-C", ws], io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

describe("asterism init", () => {
  test("attested node → cluster ID checked, kubeconfig 0600, state written; a second init is refused locally", async () => {
    const { ws, secret } = await workspace("ok");
    const r = await cli(ws, "init", "--endpoint", good, "--init-secret-file", secret, "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.clusterId).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(ws, "asterism-admin.conf")).mode & 0o777).toBe(0o600);
    expect(statSync(join(ws, "asterism-mastersecret.json")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(ws, "asterism-state.yaml"), "utf8")).toContain(out.clusterId);
    const before = requests;
    const again = await cli(ws, "init", "--endpoint", good, "--init-secret-file", secret);
    expect(again.code).toBe(2);
    expect(requests).toBe(before);
    // apply: init already done; no cluster state known → the attestation phase says so.
    const apply = await cli(ws, "apply", "--json");
    expect(apply.code).toBe(0);
    expect(JSON.parse(apply.out).phases.init).toBe("already initialized");
  }, 30_000);

  test("a node with another kernel → exit 1 naming PCR 4; no secret sent", async () => {
    const { ws, secret } = await workspace("tampered");
    const before = requests;
    const r = await cli(ws, "init", "--endpoint", tampered, "--init-secret-file", secret);
    expect(r.code).toBe(1);
    expect(r.err).toContain("PCR 4 (kernel (boot application))");
    expect(requests).toBe(before);
    expect(existsSync(join(ws, "asterism-admin.conf"))).toBe(false);
  }, 30_000);

  test("a node answering another cluster ID → exit 3, nothing written", async () => {
    const { ws, secret } = await workspace("liar");
    const r = await cli(ws, "init", "--endpoint", liar, "--init-secret-file", secret);
    expect(r.code).toBe(3);
    expect(r.err).toContain("another cluster ID");
    expect(existsSync(join(ws, "asterism-admin.conf"))).toBe(false);
  }, 30_000);

  test("no endpoint / no init secret → exit 2", async () => {
    const { ws } = await workspace("usage");
    expect((await cli(ws, "init")).code).toBe(2);
    expect((await cli(ws, "init", "--endpoint", good)).code).toBe(2);
  });
});

describe("asterism apply: attestation phase", () => {
  test("writes the configured policy (PCR 15 = 0) and the salt into the cluster state", async () => {
    const { ws, secret } = await workspace("apply");
    const db = join(ws, "cluster.sqlite");
    const r = await cli(
      ws,
      "apply",
      "--endpoint",
      good,
      "--init-secret-file",
      secret,
      "--cluster-state",
      `sqlite:${db}`,
      "--json",
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).phases).toMatchObject({ attestation: "join policy written to sqlite state" });
    const { openClusterState, parseJoinConfigObject, STATE_OBJECTS } = await import("@asterism/lifecycle");
    const cs = openClusterState(`sqlite:${db}`);
    try {
      const obj = await cs.get("config", STATE_OBJECTS.joinConfig);
      const jc = parseJoinConfigObject(obj as NonNullable<typeof obj>);
      expect(jc.policy.measurements.get(15)?.expected).toBe("00".repeat(32));
      expect(jc.policy.measurements.get(4)?.expected).toMatch(/^[0-9a-f]{64}$/);
      const state = readFileSync(join(ws, "asterism-state.yaml"), "utf8");
      expect(state).toContain(toHex(jc.measurementSalt));
    } finally {
      cs.close();
    }
    expect((await cli(ws, "apply", "--skip-phases", "nope")).code).toBe(2);
  }, 30_000);

  test("with cluster owners, the policy is proposed to them once (docs/owner.md)", async () => {
    const { ws, secret } = await workspace("apply-owners");
    const db = join(ws, "cluster.sqlite");
    const { openClusterState } = await import("@asterism/lifecycle");
    const { OwnerStore } = await import("@asterism/owner");
    const { createTestOwners } = await import("@asterism/testing");
    const cs = openClusterState(`sqlite:${db}`);
    try {
      const owners = await createTestOwners(cs);
      const args = ["--cluster-state", `sqlite:${db}`, "--anchor", owners.anchor, "--json"];
      const first = await cli(ws, "apply", "--endpoint", good, "--init-secret-file", secret, ...args);
      expect(first.code).toBe(0);
      const phase = JSON.parse(first.out).phases.attestation as string;
      expect(phase).toContain("proposed to the owners as change");
      const { pending } = await new OwnerStore(cs).listPending();
      expect(pending.map((p) => p.change.kind)).toEqual(["attestation-policy"]);
      expect(phase).toContain(pending[0]!.digest);
      // Applying again does not propose the same policy twice.
      const again = await cli(ws, "apply", ...args);
      expect(JSON.parse(again.out).phases.attestation).toContain(pending[0]!.digest);
      expect((await new OwnerStore(cs).listPending()).pending).toHaveLength(1);
    } finally {
      cs.close();
    }
  }, 30_000);
});
