/**
 * Owner approval end to end in a real browser: Debian's Chromium (headless, through playwright-core)
 * with the DevTools virtual authenticator (a CTAP2 platform authenticator with user verification).
 *
 * 1. `asterism owner enroll` → the browser registers a passkey and signs the genesis → anchor printed.
 * 2. `asterism owner propose` a policy; `asterism console` → passkey sign-in (keyboard only), overview,
 *    pending change with its diff, Approve → in force; the services' loader returns that policy.
 * 3. Refusals: a browser assertion for another change, the same assertion replayed, a policy edited
 *    directly in state, and a tampered audit log (`asterism audit verify` exits 1).
 *
 * Screenshots of every page go to .tmp/screenshots/ (view them to check the pages look right).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  approvalFromAssertion,
  canonicalJsonBytes,
  changeDigest,
  createApprovedStateLoader,
  createChange,
  OwnerStore,
  POLICY_KEY,
  POLICY_OBJECT,
} from "@asterism/owner";
import { createMemoryLogger } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import { repoRoot } from "@asterism/testing";
import type { Browser, CDPSession, Page } from "playwright-core";
import type { CliIo } from "../command.ts";
import { rootCommand } from "../commands/index.ts";
import { memoryIo } from "../io.ts";
import { runCli } from "../runner.ts";
import { haveChromium, launchPasskeyBrowser } from "./passkey-browser.ts";

setDefaultTimeout(60_000);

const shots = join(repoRoot, ".tmp", "screenshots");
const dir = mkdtempSync(join(tmpdir(), "asterism-console-"));
const db = join(dir, "state.db");
const CLUSTER_ID = "5e".repeat(32);

const POLICY_1 = {
  variants: ["qemu-vtpm"],
  measurements: {
    "4": { expected: "4a".repeat(32), warnOnly: false },
    "9": { expected: "9b".repeat(32), warnOnly: false },
    "11": { expected: "00".repeat(32), warnOnly: false },
    "12": { expected: "12".repeat(32), warnOnly: true },
    "15": { expected: "00".repeat(32), warnOnly: false },
  },
};
const POLICY_2 = {
  variants: ["qemu-vtpm", "gcp-sev-snp"],
  measurements: {
    "4": { expected: "4c".repeat(32), warnOnly: false },
    "9": { expected: "9b".repeat(32), warnOnly: true },
    "11": { expected: "00".repeat(32), warnOnly: false },
    "15": { expected: "00".repeat(32), warnOnly: false },
  },
};

let browser: Browser | undefined;
let page: Page;
let cdp: CDPSession;
let authenticator = "";
let anchor = "";
const stop = new AbortController();
const running: Promise<number>[] = [];

beforeAll(async () => {
  mkdirSync(shots, { recursive: true });
  if (!haveChromium) return;
  ({ browser, page, cdp, authenticatorId: authenticator } = await launchPasskeyBrowser());
});

afterAll(async () => {
  stop.abort();
  await Promise.allSettled(running);
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Run a CLI command in-process; its I/O is captured and `stop` ends long-running ones. */
function cli(argv: string[]): { io: CliIo & { out: string[]; err: string[] }; done: Promise<number> } {
  const io = { ...memoryIo(), signal: stop.signal };
  const done = runCli(rootCommand, argv, io);
  running.push(done);
  return { io, done };
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

async function propose(kind: string, payload: unknown): Promise<string> {
  const file = join(dir, `payload-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(payload));
  const r = cli([
    "owner",
    "propose",
    "--state",
    db,
    "--anchor",
    anchor,
    "--kind",
    kind,
    "--payload",
    file,
    "--json",
  ]);
  expect(await r.done).toBe(0);
  return (JSON.parse(r.io.out.join("")) as { digest: string }).digest;
}

describe.skipIf(!haveChromium)("owner approval in Chromium with a virtual authenticator", () => {
  test("asterism owner enroll: register a passkey and sign the genesis", async () => {
    const r = cli([
      "owner",
      "enroll",
      "--state",
      db,
      "--cluster-id",
      CLUSTER_ID,
      "--json",
      "--timeout",
      "60",
    ]);
    const link = await waitFor(
      "the launch link",
      () => /Open (http:\/\/localhost:\d+\/launch\/\S+) /.exec(r.io.err.join(""))?.[1],
    );
    await page.goto(link);
    expect(new URL(page.url()).pathname).toBe("/enroll");
    await page.getByLabel("Owner name").fill("Alice Owner");
    await page.getByLabel("Passkey label (optional)").fill("virtual platform key");
    await shot("01-enroll");
    await page.getByRole("button", { name: "Register a passkey" }).click();
    await page.locator("#registered li").first().waitFor();
    await page.getByRole("button", { name: "Finish enrollment" }).click();
    await page.locator("#done:not([hidden])").waitFor();
    await shot("02-enrolled");
    expect(await r.done).toBe(0);
    anchor = (JSON.parse(r.io.out.join("")) as { anchor: string }).anchor;
    expect(anchor).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.locator("#done").textContent()).toContain(anchor);
    const creds = (await cdp.send("WebAuthn.getCredentials", { authenticatorId: authenticator })) as {
      credentials: { rpId: string; isResidentCredential: boolean }[];
    };
    expect(creds.credentials).toHaveLength(1);
    expect(creds.credentials[0]).toMatchObject({ rpId: "localhost", isResidentCredential: true });
  });

  let consoleUrl = "";
  test("asterism console: keyboard-only passkey sign-in, overview, diff, approve; the loader enforces it", async () => {
    await seedNodes();
    const digest1 = await propose("attestation-policy", { policy: POLICY_1 });
    const r = cli(["console", "--state", db, "--anchor", anchor, "--json"]);
    consoleUrl = await waitFor("the console URL", () => {
      const line = r.io.out.join("");
      return line ? (JSON.parse(line) as { url: string }).url : undefined;
    });
    await page.goto(`${consoleUrl}/`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await shot("03-login");
    // Keyboard only: the skip link comes first, then the sign-in button.
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Sign in with passkey");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${consoleUrl}/`);

    await page.goto(`${consoleUrl}/changes`);
    const card = page.locator("section.card", { hasText: digest1 });
    await expect(card.getByRole("cell", { name: "measurement 4" }).count()).resolves.toBe(0); // row headers, not cells
    expect(await card.getByRole("rowheader", { name: "measurement 12" }).count()).toBe(1);
    await shot("04-pending-first-policy");
    await card.getByRole("button", { name: "Approve with passkey" }).click();
    await page.locator(".status-ok").waitFor();
    await page.waitForLoadState("load");

    const digest2 = await propose("attestation-policy", { policy: POLICY_2 });
    await page.goto(`${consoleUrl}/changes`);
    const card2 = page.locator("section.card", { hasText: digest2 });
    expect(await card2.locator(".banner-warn").textContent()).toContain("widens trust");
    expect(await card2.locator("tr", { hasText: "measurement 9" }).textContent()).toContain("(warn only)");
    await shot("05-pending-widening-policy");
    await card2.getByRole("button", { name: "Approve with passkey" }).click();
    await page.locator(".status-ok").waitFor();

    await page.goto(`${consoleUrl}/`);
    expect(await page.locator("tr", { hasText: "worker-1" }).textContent()).toContain(
      "trusted with warnings",
    );
    expect(await page.locator("tr", { has: page.locator("th", { hasText: /^9$/ }) }).textContent()).toContain(
      "warn only",
    );
    await shot("06-overview");
    await page.goto(`${consoleUrl}/audit`);
    expect(await page.locator(".banner-ok").textContent()).toContain("Verified");
    await shot("07-audit-log");

    const state = openSqliteState(db);
    try {
      const loader = createApprovedStateLoader({ state, anchor, logger: createMemoryLogger() });
      const approved = await loader.loadPolicy();
      expect(approved.json).toEqual(POLICY_2);
      expect(approved.policy.measurements.get(9)?.warnOnly).toBe(true);
    } finally {
      state.close();
    }
  });

  test("pages stay under 200 KB of script, have no inline script, and label every control", async () => {
    for (const path of ["/login", "/", "/changes", "/audit"]) {
      await page.goto(`${consoleUrl}${path}`);
      const scripts = await page.evaluate(() =>
        [...document.querySelectorAll("script")].map((s) => ({ src: s.src, inline: s.textContent ?? "" })),
      );
      let bytes = 0;
      for (const s of scripts) {
        expect(s.inline).toBe("");
        bytes += (await (await page.request.get(s.src)).body()).length;
      }
      expect(bytes).toBeGreaterThan(0);
      expect(bytes).toBeLessThan(200 * 1024);
      const a11y = await page.evaluate(() => ({
        lang: document.documentElement.lang,
        unlabeled: [...document.querySelectorAll("input")].filter((i) => (i.labels?.length ?? 0) === 0)
          .length,
        nameless: [...document.querySelectorAll("button")].filter((b) => !b.textContent?.trim()).length,
        tablesWithoutCaption: [...document.querySelectorAll("table")].filter((t) => !t.caption).length,
        h1: document.querySelectorAll("h1").length,
      }));
      expect(a11y).toEqual({ lang: "en", unlabeled: 0, nameless: 0, tablesWithoutCaption: 0, h1: 1 });
    }
  });

  test("refused: an approval for a different change, the same approval replayed, an unapproved policy, a tampered log", async () => {
    const state = openSqliteState(db);
    try {
      const store = new OwnerStore(state);
      const log = (await store.verifiedLog({ anchor }))!;
      const recovery = createChange({
        clusterId: CLUSTER_ID,
        head: log.state.head,
        kind: "recovery",
        payload: {
          node: "cp-0",
          disk: "0b5e9f3c-2d41-4e6a-9b7c-5a1f2e3d4c5b",
          nonce: "9e".repeat(32),
          reason: "all control planes down",
        },
        now: new Date(),
      });
      const revoke = createChange({
        clusterId: CLUSTER_ID,
        head: log.state.head,
        kind: "node-revocation",
        payload: { nodes: ["worker-1"], reason: "decommissioned" },
        now: new Date(),
      });
      await store.propose(recovery);
      const pRevoke = await store.propose(revoke);

      // A real passkey signs the recovery change in the browser…
      const assertion = await page.evaluate(
        async (challenge: number[]) => {
          const cred = (await navigator.credentials.get({
            publicKey: {
              challenge: new Uint8Array(challenge),
              rpId: "localhost",
              userVerification: "required",
            },
          })) as PublicKeyCredential;
          return (cred as unknown as { toJSON(): unknown }).toJSON();
        },
        [...changeDigest(recovery)],
      );

      // …and that signature is offered for the revocation: refused, through the console's own API.
      const wrong = await page.evaluate(
        async ([digest, body]) => {
          const res = await fetch(`/api/changes/${digest}/approve`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ assertion: body }),
          });
          return { status: res.status, body: (await res.json()) as { code: string } };
        },
        [pRevoke.digest, assertion] as const,
      );
      expect(wrong).toMatchObject({ status: 403, body: { code: "CHALLENGE_MISMATCH" } });

      // Used for the change it signs, it puts that change in force; replayed, it is refused.
      const approval = approvalFromAssertion(assertion);
      const digestRecovery = Buffer.from(changeDigest(recovery)).toString("hex");
      const first = await store.approve(digestRecovery, approval, { now: new Date(), anchor });
      expect(first.committed?.sequence).toBe(recovery.sequence);
      await store.propose(recovery);
      await expect(
        store.approve(digestRecovery, approval, { now: new Date(), anchor }),
      ).rejects.toMatchObject({
        code: "STALE_CHANGE",
      });
      // The stale revocation (built on the old head) cannot be approved any more either.
      await expect(
        store.approve(pRevoke.digest, approval, { now: new Date(), anchor }),
      ).rejects.toMatchObject({
        code: "STALE_CHANGE",
      });
      await store.discard(pRevoke.digest);
      await store.discard(digestRecovery);

      // A policy written straight into cluster state, without approval: the console and the loader refuse it.
      const o = await state.get("config", POLICY_OBJECT);
      const evil = { measurements: { "4": { expected: "ee".repeat(32), warnOnly: true } } };
      await state.update("config", POLICY_OBJECT, { [POLICY_KEY]: canonicalJsonBytes(evil) }, o!.version);
      const logger = createMemoryLogger();
      const loaded = await createApprovedStateLoader({ state, anchor, logger }).load();
      expect(loaded.policy?.json).toEqual(POLICY_2);
      expect(loaded.refused.map((e) => e.code)).toEqual(["POLICY_NOT_APPROVED"]);
      expect(logger.lines.some((l) => l["level"] === "error" && l["code"] === "POLICY_NOT_APPROVED")).toBe(
        true,
      );
      await page.goto(`${consoleUrl}/`);
      expect(await page.getByRole("alert").first().textContent()).toContain("POLICY_NOT_APPROVED");
      await shot("08-unapproved-policy-refused");
    } finally {
      state.close();
    }

    // A tampered audit log: `asterism audit verify` says no (exit 1) and names the broken entry.
    const exported = cli(["audit", "export", "--state", db]);
    expect(await exported.done).toBe(0);
    const good = join(dir, "audit-log.json");
    const bad = join(dir, "audit-log-tampered.json");
    writeFileSync(good, exported.io.out.join(""));
    writeFileSync(bad, exported.io.out.join("").replace("4c".repeat(32), "4d".repeat(32)));
    const ok = cli(["audit", "verify", good, "--anchor", anchor, "--json"]);
    expect(await ok.done).toBe(0);
    expect(JSON.parse(ok.io.out.join(""))).toMatchObject({ valid: true, entries: 4, anchorPinned: true });
    const tampered = cli(["audit", "verify", bad, "--anchor", anchor, "--json"]);
    expect(await tampered.done).toBe(1);
    expect(JSON.parse(tampered.io.out.join(""))).toMatchObject({ valid: false, code: "ENTRY_INVALID" });
    const viaEndpoint = cli(["audit", "verify", "--endpoint", consoleUrl, "--anchor", anchor, "--json"]);
    expect(await viaEndpoint.done).toBe(0);
  });
});

/** Node records as the JoinService writes them (one per node). */
async function seedNodes(): Promise<void> {
  const state = openSqliteState(db);
  const put = (name: string, record: unknown) =>
    state.create(
      "config",
      `asterism-node-${name}`,
      { "node.json": new TextEncoder().encode(JSON.stringify(record)) },
      { "asterism.dev/node": "record" },
    );
  await Promise.all([
    put("cp-0", {
      name: "cp-0",
      role: "control-plane",
      variant: "qemu-vtpm",
      lastAttestation: { at: "2026-11-25T09:58:00Z", status: "affirming" },
    }),
    put("worker-1", {
      name: "worker-1",
      role: "worker",
      variant: "qemu-vtpm",
      lastAttestation: {
        at: "2026-11-25T09:59:30Z",
        status: "warning",
        warnings: ["PCR 12 differs (warn only)"],
      },
    }),
  ]);
  state.close();
}
