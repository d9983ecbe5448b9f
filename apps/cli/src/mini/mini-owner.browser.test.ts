/**
 * Owners at init, end to end (docs/owner.md "At init", "Recovery"): `asterism mini up --owner` runs as its
 * own process with the compiled services; Debian's Chromium (headless, playwright-core) with the DevTools
 * virtual authenticator enrolls an owner and approves the initial policy in the same session.
 *
 * 1. The cluster comes up with the owners pinned: the worker joins under the approved policy, both nodes
 *    recorded the anchor on their state disks, the workspace records it, and `audit verify` needs no flags.
 * 2. A join configuration edited directly in cluster state is refused loudly by the JoinService; the
 *    approved policy stays in force (the rebooted worker still rejoins under it).
 * 3. `audit verify` fails on a tampered entry.
 * 4. Recovery: with the JoinService gone and the control plane rebooted, the master secret alone is
 *    refused (OWNER_APPROVAL_REQUIRED); `asterism recover` gets the owners' approval in the browser and
 *    the node recovers.
 *
 * Screenshots go to .tmp/screenshots/. Every process is recorded in the workspace state; afterAll runs
 * `mini down` and kills what the test spawned, also on failure.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createValidator } from "@asterism/attestation";
import { Luks2, systemCryptsetup } from "@asterism/disk";
import { LifecycleError, openClusterState, recoverNode, writeJoinConfig } from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { repoRoot } from "@asterism/testing";
import type { Browser, Page } from "playwright-core";
import { nodePolicy } from "../cluster/policy.ts";
import { loadConfig } from "../config/load.ts";
import { haveChromium, launchPasskeyBrowser } from "../console/passkey-browser.ts";
import { readMasterSecretFile } from "../workspace/master-secret.ts";
import { workspacePaths } from "../workspace/paths.ts";
import { readState } from "../workspace/state.ts";
import { readNodeStatus } from "./node.ts";
import { stopDaemon } from "./processes.ts";

setDefaultTimeout(120_000);

const shots = join(repoRoot, ".tmp", "screenshots");
const dir = mkdtempSync(join(tmpdir(), "asterism-mini-owner-"));
const ws = workspacePaths(join(dir, "ws"));
const MAIN = join(repoRoot, "apps", "cli", "src", "main.ts");

let browser: Browser | undefined;
let page: Page;
const spawned: ReturnType<typeof Bun.spawn>[] = [];

/** The CLI as its own process (from source), with its stderr collected as it comes. */
function asterism(args: string[]) {
  const p = Bun.spawn([process.execPath, MAIN, ...args, "-C", ws.dir], {
    cwd: dir,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  spawned.push(p);
  let err = "";
  const decoder = new TextDecoder();
  void (async () => {
    for await (const chunk of p.stderr) err += decoder.decode(chunk);
  })();
  const out = new Response(p.stdout).text();
  return {
    stderr: () => err,
    done: async () => ({ code: await p.exited, out: await out, err }),
  };
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

const launchLink = (text: string) => /Open (http:\/\/localhost:\d+\/launch\/\S+) /.exec(text)?.[1];
const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
const logOf = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  mkdirSync(ws.dir, { recursive: true });
  if (!haveChromium) return;
  // The services must be this tree's (init requests and join tickets carry the owners' pin).
  const build = Bun.spawnSync(
    [
      "bun",
      join(repoRoot, "scripts", "build.ts"),
      "bootstrapper",
      "join-service",
      "kms",
      "verification-service",
    ],
    { cwd: repoRoot, stdout: "pipe", stderr: "pipe" },
  );
  expect(build.exitCode).toBe(0);
  ({ browser, page } = await launchPasskeyBrowser());
}, 60_000);

afterAll(async () => {
  if (existsSync(ws.state)) await asterism(["mini", "down"]).done();
  for (const p of spawned) if (p.exitCode === null) p.kill("SIGKILL");
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

let anchor = "";

describe.skipIf(!haveChromium)("mini up --owner in Chromium with a virtual authenticator", () => {
  test("owners enroll and approve the initial policy before init; the worker joins under it; everything is pinned", async () => {
    const up = asterism([
      "mini",
      "up",
      "--owner",
      "--nodes",
      "1",
      "--workers",
      "1",
      "--json",
      "--timeout",
      "120",
    ]);
    const link = await waitFor("the launch link", () => launchLink(up.stderr()), 90_000);
    await page.goto(link);
    expect(new URL(page.url()).pathname).toBe("/enroll");
    await page.getByLabel("Owner name").fill("Alice Owner");
    await shot("09-init-enroll");
    await page.getByRole("button", { name: "Register a passkey" }).click();
    await page.locator("#registered li").first().waitFor();
    await page.getByRole("button", { name: "Finish enrollment" }).click();
    const next = page.getByRole("link", { name: "Continue: approve the initial attestation policy" });
    await next.waitFor();
    // Keyboard users land on the link: the enrollment result moves focus to it.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(
      "Continue: approve the initial attestation policy",
    );
    await next.click();
    const card = page.locator("section.card", { hasText: "attestation" });
    expect(await card.getByRole("rowheader", { name: "measurement 15" }).count()).toBe(1);
    await shot("10-init-initial-policy");
    await card.getByRole("button", { name: "Approve with passkey" }).click();
    await page.locator(".status-ok").waitFor();

    const r = await up.done();
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out) as {
      clusterId: string;
      nodes: { name: string; role: string; verified: boolean }[];
      owner: { anchor: string; owners: string[]; policyApprovedIn: number };
    };
    anchor = result.owner.anchor;
    expect(anchor).toMatch(/^[0-9a-f]{64}$/);
    expect(result.owner).toMatchObject({ owners: ["Alice Owner"], policyApprovedIn: 1 });
    expect(result.nodes.map((n) => [n.role, n.verified])).toEqual([
      ["control-plane", true],
      ["worker", true],
    ]);
    // The workspace pins the anchor; the JoinService ran with it and enforced the approved policy.
    expect(readState(ws.state)?.clusterValues?.ownerAnchor).toBe(anchor);
    const jsLog = logOf(join(ws.miniDir, "join-service.log"));
    expect(jsLog).toContain('"approvedIn":1');
    expect(jsLog).not.toContain("owner approval not configured");
    expect(jsLog).not.toContain("join.owner_approval_disabled");
    // Both nodes recorded the owners on their state disks (init request; join ticket).
    const luks = new Luks2({ cryptsetup: systemCryptsetup(), pbkdf: { pbkdf: "pbkdf2", iterations: 1000 } });
    for (const n of result.nodes) {
      const token = await luks.readToken(join(ws.miniDir, "nodes", n.name, "state-disk.img"));
      expect(token?.["owner"]).toMatchObject({ anchor });
    }
    // audit verify without flags: the workspace's cluster state and pinned anchor.
    const v = await asterism(["audit", "verify", "--json"]).done();
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ valid: true, entries: 2, genesis: anchor, anchorPinned: true });
  });

  test("a join configuration edited directly in state is refused loudly; the approved policy stays in force", async () => {
    const state = readState(ws.state);
    const spec = state?.infrastructure.clusterState as string;
    const cs = openClusterState(spec);
    try {
      await writeJoinConfig(cs, {
        policy: { measurements: createMeasurements([[4, { expected: new Uint8Array(32).fill(0xee) }]]) },
        measurementSalt: new Uint8Array(32).fill(1),
        kubernetesVersion: "v1.31.13",
        components: [],
      });
    } finally {
      cs.close();
    }
    const jsLog = join(ws.miniDir, "join-service.log");
    await waitFor("the JoinService's refusal", () =>
      /"level":"error".*"code":"POLICY_NOT_APPROVED".*"object":"asterism-join-config"/.test(logOf(jsLog))
        ? true
        : undefined,
    );
    // The worker reboots and rejoins: the JoinService still admits exactly the approved measurements.
    const worker = state?.mini?.nodes.find((n) => n.role === "worker");
    if (!worker) throw new Error("no worker");
    expect((await asterism(["mini", "reboot", worker.name]).done()).code).toBe(0);
    const status = await waitFor("the worker's rejoin", () => {
      const s = readNodeStatus(join(worker.dir, "run"));
      return s && ["done", "failed"].includes(s.phase) ? s : undefined;
    });
    expect(status).toMatchObject({ phase: "done", activatedBy: "rejoin" });
  });

  test("audit verify fails on a tampered entry", async () => {
    const exported = await asterism(["audit", "export"]).done();
    expect(exported.code).toBe(0);
    const bad = join(dir, "tampered.json");
    // Entry 1's approved policy: PCR 15 expected 0…0 → 1…1 (the owners signed the former).
    const log = JSON.parse(exported.out) as {
      entries: { change: { payload: { policy: { measurements: Record<string, { expected: string }> } } } }[];
    };
    const pcr15 = log.entries[1]?.change.payload.policy.measurements["15"];
    if (!pcr15) throw new Error("no PCR 15 in the approved policy");
    pcr15.expected = "11".repeat(32);
    writeFileSync(bad, JSON.stringify(log));
    const v = await asterism(["audit", "verify", bad, "--json"]).done();
    expect(v.code).toBe(1);
    expect(JSON.parse(v.out)).toMatchObject({ valid: false, code: "ENTRY_INVALID" });
  });

  test("recovery: the master secret alone is refused; with the owners' approval the node recovers", async () => {
    const state = readState(ws.state);
    const cp = state?.mini?.nodes.find((n) => n.role === "control-plane");
    const js = state?.mini?.services.find((s) => s.name === "join-service");
    if (!cp || !js) throw new Error("no control plane or JoinService");
    // Every control plane is down: no JoinService to rejoin through.
    await stopDaemon(js.process);
    expect((await asterism(["mini", "reboot", cp.name]).done()).code).toBe(0);
    const endpoint = readState(ws.state)?.mini?.nodes.find((n) => n.name === cp.name)?.endpoints["recovery"];
    if (!endpoint) throw new Error("no recovery endpoint");

    const config = loadConfig(ws.config);
    const validators = [createValidator("qemu-vtpm", { policy: nodePolicy(config, undefined) })];
    const alone = await recoverNode({
      endpoint,
      validators,
      masterSecret: readMasterSecretFile(ws.masterSecret),
    }).catch((e: unknown) => e);
    expect(alone).toBeInstanceOf(LifecycleError);
    expect((alone as LifecycleError).remoteCode).toBe("OWNER_APPROVAL_REQUIRED");

    // As in a real cluster whose state is down: the owners' log from the copy saved in the workspace.
    const saved = join(ws.dir, "asterism-audit-log.json");
    const rec = asterism([
      "recover",
      "--audit-log",
      saved,
      "--json",
      "--timeout",
      "90",
      "--reason",
      "test: every control plane down",
    ]);
    const link = await waitFor("the approval link", () => launchLink(rec.stderr()));
    await page.goto(link);
    const card = page.locator("section.card", { hasText: cp.name });
    await card.getByRole("button", { name: "Approve with passkey" }).waitFor();
    await shot("11-recovery-approval");
    await card.getByRole("button", { name: "Approve with passkey" }).click();
    const r = await rec.done();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ recovered: [{ approvedIn: 2, matchesState: true }] });
    expect(readNodeStatus(join(cp.dir, "run"))).toMatchObject({ phase: "done", activatedBy: "recovery" });
    // The recovery is in the workspace's copy of the log, which still verifies from the anchor.
    const v = await asterism(["audit", "verify", saved, "--json"]).done();
    expect(JSON.parse(v.out)).toMatchObject({ valid: true, entries: 3, anchorPinned: true });
  });
});
