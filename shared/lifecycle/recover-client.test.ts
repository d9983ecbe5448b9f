// recoverNode against a real server-attested aTLS listener (software evidence): a node whose recovery
// listener is at its bound answers 503 BUSY before reading the body; the client sends it again after its
// interval until the deadline, and stops at once on any other refusal.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type AtlsServer, serveAttested } from "@asterism/atls";
import { createSoftwareAttester, type SoftwareAttester } from "@asterism/testing";
import { LifecycleError, recoverNode } from "./index.ts";

const CLUSTER_ID = "ab".repeat(32);
let node: SoftwareAttester;
const servers: AtlsServer[] = [];

beforeAll(async () => {
  node = await createSoftwareAttester();
});
afterAll(async () => {
  for (const s of servers) await s.close();
});

const busy = () =>
  Response.json(
    { error: { code: "BUSY", message: "retry" } },
    { status: 503, headers: { "retry-after": "2" } },
  );

/** A recovery endpoint whose n-th request gets `answers[n]` (the last one repeats). */
async function recoveryEndpoint(answers: (() => Response)[]) {
  let handled = 0;
  const server = await serveAttested(
    {
      fetch: () => {
        const answer = answers[Math.min(handled, answers.length - 1)] as () => Response;
        handled++;
        return answer();
      },
    },
    { mode: "server-attested", issuer: node.issuer },
  );
  servers.push(server);
  return { url: `https://127.0.0.1:${server.port}`, handled: () => handled };
}

const recover = (endpoint: string, waitForEndpointMs: number) =>
  recoverNode({
    endpoint,
    validators: [node.validator()],
    masterSecret: { key: new Uint8Array(32).fill(1), salt: new Uint8Array(32).fill(2) },
    waitForEndpointMs,
    retryIntervalMs: 50,
  });

async function refusal(p: Promise<unknown>): Promise<LifecycleError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LifecycleError);
    return err as LifecycleError;
  }
  throw new Error("expected a refusal");
}

describe("recoverNode and a busy node", () => {
  test("503 BUSY is sent again after the interval, and the recovery then succeeds", async () => {
    const ep = await recoveryEndpoint([busy, busy, () => Response.json({ clusterId: CLUSTER_ID })]);
    const out = await recover(ep.url, 5_000);
    expect(Buffer.from(out.clusterId).toString("hex")).toBe(CLUSTER_ID);
    expect(ep.handled()).toBe(3);
  });

  test("still BUSY at the deadline: REFUSED with the node's BUSY code", async () => {
    const ep = await recoveryEndpoint([busy]);
    const err = await refusal(recover(ep.url, 300));
    expect(err.code).toBe("REFUSED");
    expect(err.remoteCode).toBe("BUSY");
    expect(ep.handled()).toBeGreaterThan(1);
  });

  test.each([
    { name: "a wrong master secret (403)", status: 403, code: "MASTER_SECRET_WRONG" },
    { name: "another 503", status: 503, code: "RECOVERY_FAILED" },
  ])("$name ends at once", async ({ status, code }) => {
    const ep = await recoveryEndpoint([() => Response.json({ error: { code, message: "x" } }, { status })]);
    const err = await refusal(recover(ep.url, 5_000));
    expect(err.remoteCode).toBe(code);
    expect(ep.handled()).toBe(1);
  });
});
