/**
 * `asterism verify` against VerificationService stand-ins: each is a swtpm booted by the simulated
 * firmware (optionally with a tampered component), PCR 15 extended with a cluster ID, answering
 * `GET /?nonce=` with a qemu-vtpm document carrying the boot event log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERIFY_USER_DATA } from "@asterism/api";
import { createQemuVtpmIssuer } from "@asterism/attestation";
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

async function fakeNode(components: BootComponentBytes, userData = VERIFY_USER_DATA): Promise<FakeNode> {
  const sw = await startSwtpm();
  const tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  const log = await runSimulatedFirmware(tpm, components);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", clusterId));
  await extendPcr(tpm, 15, [{ hashAlg: TPM_ALG.SHA256, digest }]);
  const issuer = createQemuVtpmIssuer({ tpm, akAlg: "ecc", readEventLog: async () => log });
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const nonce = fromBase64Url(new URL(req.url).searchParams.get("nonce") ?? "");
      return Response.json({ data: toBase64(await issuer.issue(userData, nonce)) });
    },
  });
  const n = { sw, tpm, server, url: `http://127.0.0.1:${server.port}` };
  nodes.push(n);
  return n;
}

const good = defaultBootComponentBytes("qemu-vtpm");
let valid: FakeNode;
let tampered: FakeNode;
let otherPurpose: FakeNode;

beforeAll(async () => {
  expect(await runCli(rootCommand, ["config", "generate", "qemu", "-C", ws], memoryIo())).toBe(0);
  const kernel = good.kernel.slice();
  kernel[100] = (kernel[100] ?? 0) ^ 0xff;
  [valid, tampered, otherPurpose] = await Promise.all([
    fakeNode(good),
    fakeNode({ ...good, kernel }),
    fakeNode(good, new Uint8Array(32)),
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

  test.each([
    ["no cluster ID", ["--node", "127.0.0.1:1"]],
    ["nothing to verify", ["--cluster-id", "00".repeat(32)]],
    ["short cluster ID", ["--node", "127.0.0.1:1", "--cluster-id", "00"]],
  ])("%s → exit 2", async (_n, argv) => {
    expect((await verify(...argv)).code).toBe(2);
  });
});
