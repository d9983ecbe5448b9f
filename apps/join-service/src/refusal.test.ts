// The JoinService's refusal log names the PCRs a node got wrong. Real client-attested aTLS: a swtpm node
// booted from one image attests to a server whose policy is another image's (with PCR 15 = 0, as the
// JoinService enforces); the refusal the server reports is logged through `refusalFields`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AtlsError, attestedFetch, serveAttested } from "@asterism/atls";
import { createQemuVtpmValidator } from "@asterism/attestation";
import {
  bootLocalNode,
  createNodeIssuer,
  localImage,
  localImageMeasurements,
  measureNodeIdentity,
  type NodeTpm,
  openNodeTpm,
} from "@asterism/lifecycle";
import { createMeasurements, MeasurementMismatchError } from "@asterism/measurements";
import { createMemoryLogger } from "@asterism/service";
import { type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { Hono } from "hono";
import { findMeasurementMismatch, refusalFields } from "./refusal.ts";

const EXPECTED = localImage("joinservice-refusal-expected");
const BOOTED = localImage("joinservice-refusal-booted");
let sw: SwtpmInstance;
let tpm: NodeTpm;
let eventLog: Uint8Array;

beforeAll(async () => {
  sw = await startSwtpm();
  const firmwareLog = await bootLocalNode(sw, BOOTED);
  tpm = await openNodeTpm({ kind: "swtpm", host: sw.host, port: sw.port });
  eventLog = await measureNodeIdentity(
    tpm,
    { name: "worker-9", role: "worker", ips: ["10.0.2.24"] },
    firmwareLog,
  );
});
afterAll(async () => {
  await tpm?.close().catch(() => undefined);
  await sw?.stop();
});

describe("join.atls_rejected names the mismatching PCRs", () => {
  test("a node of another image: every differing PCR with its expected and quoted value", async () => {
    const policy = {
      measurements: createMeasurements([
        ...localImageMeasurements(EXPECTED),
        [15, { expected: new Uint8Array(32) }],
      ]),
    };
    const logger = createMemoryLogger();
    const rejected: AtlsError[] = [];
    const app = new Hono();
    app.get("/", (c) => c.text("admitted"));
    const server = await serveAttested(app, {
      mode: "client-attested",
      validators: [createQemuVtpmValidator({ policy })],
      host: "127.0.0.1",
      port: 0,
      onRejected: (err) => {
        rejected.push(err);
        logger.log("warn", "join.atls_rejected", refusalFields(err));
      },
    });
    try {
      const res = await attestedFetch(
        new URL(`https://127.0.0.1:${server.port}/`),
        { method: "GET" },
        { mode: "client-attested", issuer: createNodeIssuer({ tpm, readEventLog: async () => eventLog }) },
      ).catch((e: unknown) => e);
      expect(res).toBeInstanceOf(Error);
      for (let i = 0; i < 100 && rejected.length === 0; i++) await Bun.sleep(20);
    } finally {
      await server.close();
    }
    const line = logger.lines.find((l) => l["msg"] === "join.atls_rejected");
    expect(line?.["code"]).toBe("EVIDENCE_REJECTED");
    const want = [...localImageMeasurements(EXPECTED)]
      .filter(
        ([i, m]) => m.expected !== [...localImageMeasurements(BOOTED)].find(([j]) => j === i)?.[1].expected,
      )
      .map(([i]) => i);
    expect(want.length).toBeGreaterThan(0);
    expect(line?.["mismatchedPcrs"]).toBe(want.join(","));
    const booted = new Map(localImageMeasurements(BOOTED));
    for (const i of want) {
      const e = localImageMeasurements(EXPECTED).get(i)?.expected;
      expect(String(line?.["mismatches"])).toContain(`[${i}] expected ${e} got ${booted.get(i)?.expected}`);
    }
    // PCR 15 matched (0 before joining) and is not named.
    expect(String(line?.["mismatches"])).not.toContain("[15]");
  }, 20_000);

  test("other refusals keep code and reason, and name no PCRs", () => {
    const f = refusalFields(new AtlsError("HANDSHAKE_TIMEOUT", "Closed a connection"));
    expect(f).toEqual({ code: "HANDSHAKE_TIMEOUT", reason: "Closed a connection" });
  });

  test("the search through causes is bounded (a cause cycle ends)", () => {
    const a = new Error("a") as Error & { cause?: unknown };
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(findMeasurementMismatch(a)).toBeUndefined();
    const m = new MeasurementMismatchError({
      ok: false,
      mismatches: [{ index: 4, expected: "00".repeat(32), actual: null, warnOnly: false }],
      warnings: [],
      matched: [],
    });
    expect(findMeasurementMismatch(new Error("x", { cause: new Error("y", { cause: m }) }))).toBe(m);
    const f = refusalFields(new AtlsError("EVIDENCE_REJECTED", "Cannot accept", { cause: m }));
    expect(f["mismatches"]).toBe(`[4] expected ${"00".repeat(32)} got nothing (not quoted)`);
  });
});
