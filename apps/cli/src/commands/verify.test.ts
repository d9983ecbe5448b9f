/**
 * `asterism verify` against VerificationService stand-ins: each is a swtpm booted by the simulated
 * firmware (optionally with a tampered component), PCR 15 extended with a cluster ID, answering
 * `GET /?nonce=` with a qemu-vtpm document carrying the boot event log, and (some of them) the batch
 * endpoint `POST /v1/attest/batch` through a real nonce batcher.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERIFY_USER_DATA } from "@asterism/api";
import { createNonceBatcher, createQemuVtpmIssuer } from "@asterism/attestation";
import { fromBase64Url, toBase64 } from "@asterism/bytes";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, extendPcr, openSwtpm, TPM_ALG } from "@asterism/tpm";
import { defaultBootComponentBytes } from "../boot/components.ts";
import type { BootComponentBytes } from "../boot/events.ts";
import { runSimulatedFirmware } from "../boot/firmware.ts";
import { memoryIo } from "../io.ts";
import { runCli } from "../runner.ts";
import { rootCommand } from "./index.ts";

const ws = mkdtempSync(join(tmpdir(), "asterism-verify-"));
const clusterId = new Uint8Array(32).fill(0x5a);
const clusterIdHex = Buffer.from(clusterId).toString("hex");

interface FakeNode {
  sw: SwtpmInstance;
  tpm: ClosableTpm;
  server: ReturnType<typeof Bun.serve>;
  url: string;
}
const nodes: FakeNode[] = [];

/**
 * How a fake node treats `POST /v1/attest/batch`: `none` (404, as a node without the endpoint), `real`
 * (a nonce batcher, as the VerificationService), or `foreign` (a genuine batch document and proof, but for
 * a batch that does not contain the asker's nonce).
 */
type BatchMode = "none" | "real" | "foreign";

async function fakeNode(
  components: BootComponentBytes,
  userData = VERIFY_USER_DATA,
  batch: BatchMode = "none",
): Promise<FakeNode & { requests: string[] }> {
  const sw = await startSwtpm();
  const tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  const log = await runSimulatedFirmware(tpm, components);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", clusterId));
  await extendPcr(tpm, 15, [{ hashAlg: TPM_ALG.SHA256, digest }]);
  const issuer = createQemuVtpmIssuer({ tpm, akAlg: "ecc", readEventLog: async () => log });
  const batcher = createNonceBatcher({ issue: (root) => issuer.issue(userData, root) });
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      requests.push(`${req.method} ${url.pathname}`);
      if (req.method === "POST" && url.pathname === "/v1/attest/batch") {
        if (batch === "none")
          return Response.json({ error: { code: "NOT_FOUND", message: "no" } }, { status: 404 });
        const asked = fromBase64Url(((await req.json()) as { nonce: string }).nonce);
        const nonce = batch === "real" ? asked : crypto.getRandomValues(new Uint8Array(32));
        const { document, proof } = await batcher.submit(nonce);
        return Response.json({
          data: toBase64(document),
          proof: { index: proof.index, size: proof.size, path: proof.path.map((h) => toBase64(h)) },
        });
      }
      const nonce = fromBase64Url(url.searchParams.get("nonce") ?? "");
      return Response.json({ data: toBase64(await issuer.issue(userData, nonce)) });
    },
  });
  const n = { sw, tpm, server, url: `http://127.0.0.1:${server.port}`, requests };
  nodes.push(n);
  return n;
}

const good = defaultBootComponentBytes("qemu-vtpm");
let valid: FakeNode;
let tampered: FakeNode;
let otherPurpose: FakeNode;
let batching: FakeNode & { requests: string[] };
let foreignBatch: FakeNode;

beforeAll(async () => {
  expect(await runCli(rootCommand, ["config", "generate", "qemu", "-C", ws], memoryIo())).toBe(0);
  const kernel = good.kernel.slice();
  kernel[100] = (kernel[100] ?? 0) ^ 0xff;
  [valid, tampered, otherPurpose, batching, foreignBatch] = await Promise.all([
    fakeNode(good),
    fakeNode({ ...good, kernel }),
    fakeNode(good, new Uint8Array(32)),
    fakeNode(good, VERIFY_USER_DATA, "real"),
    fakeNode(good, VERIFY_USER_DATA, "foreign"),
  ]);
}, 30_000);

afterAll(async () => {
  for (const n of nodes) {
    n.server.stop(true);
    await n.tpm.close();
    await n.sw.stop();
  }
  rmSync(ws, { recursive: true, force: true });
});

async function verify(...argv: string[]) {
  const io = memoryIo({}, ws);
  const code = await runCli(rootCommand, ["verify", ...argv], io);
  return { code, out: io.out.join(""), err: io.err.join("") };
}

describe("asterism verify", () => {
  test("a node booted from the declared components with this cluster ID → exit 0", async () => {
    const r = await verify("--node", valid.url, "--cluster-id", clusterIdHex);
    expect(r.code).toBe(0);
    expect(r.out).toContain("valid");
    expect(r.out).toContain("1/1 node(s) verified");
    expect(r.out).toContain("event log replayed");
  });

  test("a tampered kernel → exit 1 naming PCR 4", async () => {
    const r = await verify(
      "--node",
      tampered.url,
      "--node",
      valid.url,
      "--cluster-id",
      clusterIdHex,
      "--json",
    );
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out);
    expect(out.valid).toBe(false);
    expect(out.nodes[0]).toMatchObject({ valid: false, code: "MEASUREMENT_MISMATCH" });
    expect(out.nodes[0].mismatches.map((m: { index: number }) => m.index)).toEqual([4]);
    expect(out.nodes[1].valid).toBe(true);
    const text = await verify("--node", tampered.url, "--cluster-id", clusterIdHex);
    expect(text.out).toContain("PCR 4 (kernel (boot application)): expected");
  });

  test("another cluster's ID → exit 1 naming PCR 15", async () => {
    const r = await verify("--node", valid.url, "--cluster-id", "00".repeat(32));
    expect(r.code).toBe(1);
    expect(r.out).toContain("PCR 15 (cluster ID)");
  });

  test("a document bound to another purpose → USER_DATA_MISMATCH", async () => {
    const r = await verify("--node", otherPurpose.url, "--cluster-id", clusterIdHex, "--json");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).nodes[0].code).toBe("USER_DATA_MISMATCH");
  });

  test("unreachable node → exit 3", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response("", { status: 500 }),
    });
    const url = `http://127.0.0.1:${server.port}`;
    try {
      const r = await verify("--node", url, "--cluster-id", clusterIdHex);
      expect(r.code).toBe(3);
      expect(r.out).toContain("UNREACHABLE");
    } finally {
      server.stop(true);
    }
  });

  test("several nodes: the batch endpoint where the node has one, the single path where it has not", async () => {
    const before = batching.requests.length;
    const r = await verify(
      "--node",
      batching.url,
      "--node",
      valid.url,
      "--cluster-id",
      clusterIdHex,
      "--json",
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.nodes.map((n: { valid: boolean; via: string }) => [n.valid, n.via])).toEqual([
      [true, "batch"],
      [true, "single"],
    ]);
    // The batching node was asked once, through its batch endpoint only.
    expect(batching.requests.slice(before)).toEqual(["POST /v1/attest/batch"]);
    const text = await verify("--node", batching.url, "--node", valid.url, "--cluster-id", clusterIdHex);
    expect(text.out).toContain("event log replayed, batched");
    expect(text.out).toContain("2/2 node(s) verified");
  });

  test("one node: the single path, even when the node has a batch endpoint", async () => {
    const before = batching.requests.length;
    const r = await verify("--node", batching.url, "--cluster-id", clusterIdHex, "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).nodes[0].via).toBe("single");
    expect(batching.requests.slice(before)).toEqual(["GET /"]);
  });

  test("a batch answer whose proof does not carry our nonce → INVALID (NONCE_MISMATCH)", async () => {
    const r = await verify(
      "--node",
      foreignBatch.url,
      "--node",
      valid.url,
      "--cluster-id",
      clusterIdHex,
      "--json",
    );
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out);
    expect(out.nodes[0]).toMatchObject({ valid: false, code: "NONCE_MISMATCH" });
    expect(out.nodes[1]).toMatchObject({ valid: true, via: "single" });
  });

  test("a tampered kernel behind the batch endpoint is named just the same", async () => {
    const kernel = good.kernel.slice();
    kernel[200] = (kernel[200] ?? 0) ^ 0x01;
    const bad = await fakeNode({ ...good, kernel }, VERIFY_USER_DATA, "real");
    const r = await verify("--node", bad.url, "--node", valid.url, "--cluster-id", clusterIdHex, "--json");
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out);
    expect(out.nodes[0]).toMatchObject({ valid: false, code: "MEASUREMENT_MISMATCH" });
    expect(out.nodes[0].mismatches.map((m: { index: number }) => m.index)).toEqual([4]);
  });

  test.each([
    ["no cluster ID", ["--node", "127.0.0.1:1"]],
    ["nothing to verify", ["--cluster-id", "00".repeat(32)]],
    ["short cluster ID", ["--node", "127.0.0.1:1", "--cluster-id", "00"]],
  ])("%s → exit 2", async (_n, argv) => {
    expect((await verify(...argv)).code).toBe(2);
  });
});
