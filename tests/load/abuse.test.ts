/**
 * Abuse of every network endpoint, against the real service processes on loopback: oversized and
 * malformed requests get a 4xx with a typed error body (never a 5xx) without the service buffering the
 * oversized body, and slow clients (slow-loris: connections that trickle or say nothing) neither starve
 * other clients nor stay connected forever. The bootstrapper's init and recovery listeners (the compiled
 * binary) get the same treatment in bootstrapper-abuse.test.ts.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { localImage, localImageMeasurements } from "@asterism/lifecycle";
import { type ClusterRig, REPO, startClusterRig } from "../support/cluster-rig.ts";
import { createSwtpmNode, type SwtpmNode } from "../support/swtpm-node.ts";

setDefaultTimeout(120_000);

const image = localImage("abuse");
let rig: ClusterRig;
let node: SwtpmNode;
let vs: Bun.Subprocess;
let vsUrl = "";
let jsHttpUrl = "";
const dir = mkdtempSync(join(tmpdir(), "asterism-abuse-"));

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

beforeAll(async () => {
  rig = await startClusterRig({ policy: { measurements: localImageMeasurements(image) } });
  node = await createSwtpmNode({ name: "worker-v", role: "worker", ips: ["127.0.0.9"] }, image);
  const endpoints = join(dir, "vs.json");
  vs = Bun.spawn(["bun", join(REPO, "apps", "verification-service", "src", "main.ts")], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      ASTERISM_TPM: `swtpm:127.0.0.1:${node.tpmPort}`,
      ASTERISM_RUN_DIR: dir,
      ASTERISM_VERIFY_LISTEN: "127.0.0.1:0",
      ASTERISM_ENDPOINTS_FILE: endpoints,
      ASTERISM_LOG_LEVEL: "warn",
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  for (let i = 0; i < 400 && vsUrl === ""; i++) {
    try {
      vsUrl = (JSON.parse(readFileSync(endpoints, "utf8")) as { verify: string }).verify;
    } catch {
      await Bun.sleep(25);
    }
  }
  const jsEndpoints = JSON.parse(readFileSync(join(rig.dir, "join-service.endpoints.json"), "utf8")) as {
    http: string;
  };
  jsHttpUrl = jsEndpoints.http;
});

afterAll(async () => {
  vs?.kill("SIGKILL");
  await vs?.exited;
  await node?.stop();
  await rig?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Target = { name: string; url: () => string; fetch?: typeof fetch; shape: "lifecycle" | "kms" };
const targets: Target[] = [
  { name: "verification-service POST /v1/attest", url: () => `${vsUrl}/v1/attest`, shape: "lifecycle" },
  {
    name: "verification-service POST /v1/attest/batch",
    url: () => `${vsUrl}/v1/attest/batch`,
    shape: "lifecycle",
  },
  {
    name: "join-service (HTTP listener) POST /v1/join",
    url: () => `${jsHttpUrl}/v1/join`,
    shape: "lifecycle",
  },
  {
    name: "join-service (HTTP listener) POST /v1/rejoin",
    url: () => `${jsHttpUrl}/v1/rejoin`,
    shape: "lifecycle",
  },
  {
    name: "kms POST /v1/data-keys (mTLS, JoinService identity)",
    url: () => `${rig.kms.url()}/v1/data-keys`,
    fetch: ((u: string, i?: RequestInit) => rig.joinServiceFetch(u, i)) as typeof fetch,
    shape: "kms",
  },
];

async function typed(res: Response, shape: Target["shape"]): Promise<string> {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  const body = (await res.json()) as { error?: { code?: unknown }; code?: unknown; domain?: unknown };
  const code = shape === "lifecycle" ? body.error?.code : body.code;
  expect(typeof code).toBe("string");
  if (shape === "kms") expect(typeof body.domain).toBe("string");
  return code as string;
}

const BIG = 16 * 1024 * 1024;

describe("oversized and malformed requests: typed 4xx, never 5xx, nothing buffered", () => {
  const pidOf = (t: Target) =>
    t.name.startsWith("verification")
      ? vs.pid
      : t.name.startsWith("join")
        ? rig.joinService?.pid()
        : rig.kms.pid();

  test.each(targets)("$name", async (t) => {
    const f = t.fetch ?? fetch;
    const before = rssMiB(pidOf(t));
    // Declared length (refused from the header) and chunked (refused while reading), several at once.
    const declared = () =>
      f(t.url(), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new Uint8Array(BIG).fill(0x41),
      });
    const chunked = () =>
      f(t.url(), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < 16; i++) c.enqueue(new Uint8Array(1024 * 1024).fill(0x41));
            c.close();
          },
        }),
      });
    const answers = await Promise.all([declared(), declared(), declared(), chunked(), chunked(), chunked()]);
    for (const r of answers) await typed(r, t.shape);
    for (const body of [
      "",
      "{",
      "null",
      "[]",
      '{"nonce":1}',
      '{"id":"../../etc/passwd","length":32}',
      "\u0000\u0001",
    ])
      await typed(
        await f(t.url(), { method: "POST", headers: { "content-type": "application/json" }, body }),
        t.shape,
      );
    // 6 × 16 MiB arrived; a service that buffered them would have grown by far more than this.
    expect(rssMiB(pidOf(t)) - before).toBeLessThan(48);
  });

  test("verification-service GET with a 64 KiB query string: 4xx typed", async () => {
    const res = await fetch(`${vsUrl}/?nonce=${"A".repeat(64 * 1024)}`);
    expect(res.status).toBeLessThan(500);
    expect(res.status).toBeGreaterThanOrEqual(400);
  });
});

/** Open `n` raw TCP connections that send a partial request and then one byte per `everyMs`. */
function slowClients(port: number, n: number, head: string, everyMs: number) {
  const sockets: Socket[] = [];
  let closedByServer = 0;
  const timers: ReturnType<typeof setInterval>[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.write(head);
      timers.push(
        setInterval(() => {
          if (!s.destroyed) s.write("x");
        }, everyMs),
      );
    });
    s.on("error", () => undefined);
    s.on("close", () => {
      closedByServer++;
    });
    sockets.push(s);
  }
  return {
    closed: () => closedByServer,
    stop() {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
    },
  };
}

async function healthLatencies(url: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    await r.arrayBuffer();
    expect(r.status).toBe(200);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

describe("slow clients do not exhaust the services", () => {
  test.each([
    { name: "verification-service", url: () => vsUrl },
    { name: "join-service HTTP listener", url: () => jsHttpUrl },
  ])("$name: 300 slow-loris connections; other clients still served promptly", async ({ url }) => {
    const port = Number(new URL(url()).port);
    const slow = slowClients(
      port,
      300,
      "POST /v1/attest HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
      500,
    );
    try {
      await Bun.sleep(500);
      const lat = await healthLatencies(`${url()}/healthz`, 20);
      expect(lat[lat.length - 1] as number).toBeLessThan(2000);
    } finally {
      slow.stop();
    }
  });

  test("join-service aTLS listener: 300 silent connections are cut at the handshake deadline; a node still joins", async () => {
    const port = Number(new URL(rig.joinService?.url() ?? "").port);
    const silent = slowClients(port, 300, "", 60_000);
    try {
      await Bun.sleep(300);
      const lat = await healthLatencies(`${jsHttpUrl}/healthz`, 10);
      expect(lat[lat.length - 1] as number).toBeLessThan(2000);
      // The handshake deadline (10 s by default) closes every connection that never attested.
      for (let i = 0; i < 160 && silent.closed() < 300; i++) await Bun.sleep(100);
      expect(silent.closed()).toBe(300);
    } finally {
      silent.stop();
    }
  });
});
