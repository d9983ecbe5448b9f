/**
 * `asterism init --owner` against a real-cluster-shaped target: an init endpoint stand-in (server-attested
 * aTLS, swtpm evidence of the default qemu boot) whose admin kubeconfig points at the test API server
 * (tests/kube-apiserver), so the owners' log and the anchor object go through the same Kubernetes state
 * code the services use, into namespace asterism-system where the manifests read the anchor from.
 * Chromium (headless) with the DevTools virtual authenticator runs the ceremony.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import "reflect-metadata";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { API_PATHS } from "@asterism/api";
import { serveAttested } from "@asterism/atls";
import { createQemuVtpmIssuer } from "@asterism/attestation";
import { fromBase64, fromUtf8, toHex } from "@asterism/bytes";
import { openClusterState } from "@asterism/lifecycle";
import { OwnerStore } from "@asterism/owner";
import { codeOfAsync, type SwtpmInstance, startSwtpm } from "@asterism/testing";
import { type ClosableTpm, openSwtpm } from "@asterism/tpm";
import * as x509 from "@peculiar/x509";
import { Hono } from "hono";
import type { Browser, Page } from "playwright-core";
import { stringify } from "yaml";
import {
  createTestPki,
  startTestApiServer,
  type TestApiServer,
  type TestPki,
} from "../../../../tests/kube-apiserver/index.ts";
import { defaultBootComponentBytes } from "../boot/components.ts";
import { runSimulatedFirmware } from "../boot/firmware.ts";
import { expectedClusterId } from "../cluster/init.ts";
import { OWNER_ANCHOR_OBJECT, publishOwners } from "../cluster/owners.ts";
import { nodePolicy } from "../cluster/policy.ts";
import { loadConfig } from "../config/load.ts";
import { haveChromium, launchPasskeyBrowser } from "../console/passkey-browser.ts";
import { memoryIo } from "../io.ts";
import { runCli } from "../runner.ts";
import { readState } from "../workspace/state.ts";
import { rootCommand } from "./index.ts";
import { policyJson } from "./owner/propose-policy.ts";

setDefaultTimeout(60_000);
x509.cryptoProvider.set(crypto);

const root = mkdtempSync(join(tmpdir(), "asterism-init-owner-"));
const ws = join(root, "ws");
const stop = new AbortController();
let browser: Browser | undefined;
let page: Page;
let pki: TestPki;
let api: TestApiServer;
let sw: SwtpmInstance;
let tpm: ClosableTpm;
let server: { port: number; close(): Promise<void> } | undefined;
let endpoint = "";
const received: unknown[] = [];

beforeAll(async () => {
  if (!haveChromium) return;
  pki = createTestPki();
  api = await startTestApiServer({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requireClientCert: true },
  });
  const tls = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
  const ns = await fetch(`${api.url}/api/v1/namespaces`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "asterism-system" } }),
    tls,
  } as RequestInit);
  expect(ns.status).toBe(201);
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  // What the node hands back at init: an admin kubeconfig for "its" API server (here the test one).
  const kubeconfig = stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: api.url, "certificate-authority-data": b64(pki.ca) } }],
    users: [
      {
        name: "u",
        user: { "client-certificate-data": b64(pki.clientCert), "client-key-data": b64(pki.clientKey) },
      },
    ],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  });

  sw = await startSwtpm();
  tpm = await openSwtpm({ host: sw.host, port: sw.port, ctrlPort: sw.ctrlPort });
  const log = await runSimulatedFirmware(tpm, defaultBootComponentBytes("qemu-vtpm"));
  const app = new Hono();
  app.post(API_PATHS.init, async (ctx) => {
    const body = (await ctx.req.json()) as {
      masterSecret: { key: string; salt: string };
      measurementSalt: string;
      owner?: unknown;
    };
    received.push(body.owner);
    const id = await expectedClusterId(
      { key: fromBase64(body.masterSecret.key), salt: fromBase64(body.masterSecret.salt) },
      fromBase64(body.measurementSalt),
    );
    return ctx.json({ clusterId: toHex(id), kubeconfig, kubernetes: { performed: true } });
  });
  server = await serveAttested(app, {
    mode: "server-attested",
    issuer: createQemuVtpmIssuer({ tpm, akAlg: "ecc", readEventLog: async () => log }),
  });
  endpoint = `127.0.0.1:${server.port}`;

  expect(await runCli(rootCommand, ["config", "generate", "qemu", "-C", ws], memoryIo())).toBe(0);
  writeFileSync(join(ws, "init-secret"), "correct horse battery staple");

  ({ browser, page } = await launchPasskeyBrowser());
}, 60_000);

afterAll(async () => {
  stop.abort();
  await browser?.close();
  await server?.close();
  await tpm?.close().catch(() => undefined);
  await sw?.stop();
  await api?.stop();
  rmSync(root, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const io = { ...memoryIo({}, ws), signal: stop.signal };
  const done = runCli(rootCommand, [...argv, "-C", ws], io);
  return { io, done };
}

describe.skipIf(!haveChromium)("asterism init --owner", () => {
  let anchor = "";
  test("owners first, then init with the pin; log and anchor object in the cluster's asterism-system namespace", async () => {
    const run = await cli(
      "init",
      "--owner",
      "--endpoint",
      endpoint,
      "--init-secret-file",
      join(ws, "init-secret"),
      "--json",
      "--timeout",
      "60",
    );
    const end = Date.now() + 20_000;
    let link: string | undefined;
    while (!link && Date.now() < end) {
      link = /Open (http:\/\/localhost:\d+\/launch\/\S+) /.exec(run.io.err.join(""))?.[1];
      await Bun.sleep(25);
    }
    if (!link) throw new Error("no launch link");
    // Nothing reached the node before the owners finished.
    expect(received).toEqual([]);
    await page.goto(link);
    await page.getByLabel("Owner name").fill("Olga Owner");
    await page.getByRole("button", { name: "Register a passkey" }).click();
    await page.locator("#registered li").first().waitFor();
    await page.getByRole("button", { name: "Finish enrollment" }).click();
    await page.getByRole("link", { name: "Continue: approve the initial attestation policy" }).click();
    await page.getByRole("button", { name: "Approve with passkey" }).click();
    expect(await run.done).toBe(0);
    const out = JSON.parse(run.io.out.join("")) as {
      owner: { anchor: string; clusterState: string; policyApprovedIn: number; logFile: string };
    };
    anchor = out.owner.anchor;
    expect(out.owner.clusterState).toBe(`kube:${join(ws, "asterism-admin.conf")}#asterism-system`);
    expect(out.owner.policyApprovedIn).toBe(1);
    expect(existsSync(out.owner.logFile)).toBe(true);
    // The node got the pin in its init request.
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ anchor, head: { sequence: 1 } });
    // The workspace pins the anchor and names the cluster state.
    expect(readState(join(ws, "asterism-state.yaml"))?.clusterValues?.ownerAnchor).toBe(anchor);
    // The anchor object and the owners' log are in the API server, namespace asterism-system.
    const cs = openClusterState(out.owner.clusterState);
    try {
      const obj = await cs.get("config", OWNER_ANCHOR_OBJECT);
      expect(fromUtf8(obj?.data["anchor"] ?? new Uint8Array())).toBe(anchor);
      const log = await new OwnerStore(cs).verifiedLog({ anchor });
      const config = loadConfig(join(ws, "asterism-conf.yaml"));
      expect(log?.state.policy?.json).toEqual(policyJson(nodePolicy(config, undefined)));
      // Never overwritten: publishing another anchor is refused.
      expect(await codeOfAsync(publishOwners(cs, { anchor: "ab".repeat(32), entries: [] }))).toBe(
        "ANCHOR_MISMATCH",
      );
    } finally {
      cs.close();
    }
  });

  test("audit verify and apply find the anchor and the cluster state in the workspace", async () => {
    const v = await cli("audit", "verify", "--json");
    expect(await v.done).toBe(0);
    expect(JSON.parse(v.io.out.join(""))).toMatchObject({
      valid: true,
      entries: 2,
      genesis: anchor,
      anchorPinned: true,
    });
    // apply: the configured policy is exactly the one the owners approved at init.
    const a = await cli("apply", "--json");
    expect(await a.done).toBe(0);
    expect(JSON.parse(a.io.out.join("")).phases.attestation).toContain(
      "approved by the owners in audit entry 1",
    );
    // The workspace's saved copy of the log (what recovery uses when the cluster is down) verifies too.
    const saved = await cli("audit", "verify", join(ws, "asterism-audit-log.json"), "--json");
    expect(await saved.done).toBe(0);
    expect(JSON.parse(saved.io.out.join(""))).toMatchObject({ valid: true, entries: 2, anchorPinned: true });
  });
});
