import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "@asterism/bytes";
import { isAsterismError } from "@asterism/errors";
import { STATE_OBJECTS, writeJoinConfig } from "@asterism/lifecycle";
import { createMeasurements } from "@asterism/measurements";
import { createApprovedStateLoader } from "@asterism/owner";
import { createMemoryLogger } from "@asterism/service";
import { openSqliteState } from "@asterism/state";
import { createTestOwners } from "@asterism/testing";
import { createJoinConfigHolder } from "./policy.ts";

const dir = mkdtempSync(join(tmpdir(), "asterism-join-policy-"));
const state = openSqliteState(join(dir, "state.db"));
const abort = new AbortController();
const logger = createMemoryLogger();
afterAll(() => {
  abort.abort();
  state.close();
  rmSync(dir, { recursive: true, force: true });
});

const until = async <T>(f: () => T | undefined): Promise<T> => {
  for (let i = 0; i < 200; i++) {
    const v = f();
    if (v !== undefined) return v;
    await Bun.sleep(10);
  }
  throw new Error("timeout");
};

describe("join configuration holder", () => {
  test("not loaded → POLICY_NOT_LOADED; loaded; reloaded on change; a broken update keeps the last good one", async () => {
    const holder = createJoinConfigHolder({
      state,
      logger,
      variants: ["qemu-vtpm"],
      reloadMs: 20,
      signal: abort.signal,
    });
    let code: string | undefined;
    try {
      holder.require();
    } catch (e) {
      code = isAsterismError(e) ? e.code : undefined;
    }
    expect(code).toBe("POLICY_NOT_LOADED");
    const [validator] = holder.validators();
    const refused = await validator!.validate(new Uint8Array(1), new Uint8Array(32)).catch((e: unknown) => e);
    expect(isAsterismError(refused) ? refused.code : undefined).toBe("POLICY_NOT_LOADED");

    const m1 = createMeasurements([[4, { expected: new Uint8Array(32).fill(1) }]]);
    await writeJoinConfig(state, {
      policy: { measurements: m1 },
      measurementSalt: new Uint8Array(32).fill(9),
      kubernetesVersion: "v1.31.13",
      components: [
        { url: "https://x.invalid/a", hash: `sha256:${"0".repeat(64)}`, installPath: "/usr/bin/a" },
      ],
    });
    const first = await until(() => holder.current());
    expect(first.policy.measurements.get(4)?.expected).toBe("01".repeat(32));
    expect(first.policy.measurements.get(15)?.expected).toBe("0".repeat(64));
    await until(() => (holder.current()?.components.length === 1 ? true : undefined));
    expect(holder.current()?.kubernetesVersion).toBe("v1.31.13");

    const m2 = createMeasurements([[4, { expected: new Uint8Array(32).fill(2) }]]);
    await writeJoinConfig(state, {
      policy: { measurements: m2 },
      measurementSalt: new Uint8Array(32).fill(9),
      kubernetesVersion: "v1.31.13",
      components: [],
    });
    await until(() =>
      holder.current()?.policy.measurements.get(4)?.expected === "02".repeat(32) ? true : undefined,
    );

    const cur = await state.get("config", STATE_OBJECTS.joinConfig);
    await state.update(
      "config",
      STATE_OBJECTS.joinConfig,
      { attestationPolicy: new TextEncoder().encode("{not json"), measurementSalt: new Uint8Array(32) },
      cur!.version,
    );
    await until(() => (logger.lines.some((l) => l["msg"] === "join.config_invalid") ? true : undefined));
    expect(holder.current()?.policy.measurements.get(4)?.expected).toBe("02".repeat(32));
  });
});

describe("join configuration holder with owner approvals (docs/owner.md)", () => {
  test("only the approved policy is enforced; an edited join config is refused loudly; revocations apply", async () => {
    const s = openSqliteState(join(dir, "owners.db"));
    const log = createMemoryLogger();
    const stop = new AbortController();
    try {
      const owners = await createTestOwners(s);
      const approvals = createApprovedStateLoader({ state: s, anchor: owners.anchor, logger: log });
      const holder = createJoinConfigHolder({
        state: s,
        logger: log,
        variants: ["qemu-vtpm"],
        reloadMs: 20,
        signal: stop.signal,
        approvals,
      });
      const m = (fill: number) => createMeasurements([[4, { expected: new Uint8Array(32).fill(fill) }]]);
      const approvedJson = (fill: number) => ({
        measurements: { "4": { expected: toHex(new Uint8Array(32).fill(fill)), warnOnly: false } },
      });
      const write = (fill: number) =>
        writeJoinConfig(s, {
          policy: { measurements: m(fill) },
          measurementSalt: new Uint8Array(32).fill(9),
          kubernetesVersion: "v1.31.13",
          components: [],
        });

      // A join config without any approved policy: refused, nothing is loaded, joins are refused.
      const refusals = (seq: number) =>
        log.lines.filter((l) => l["code"] === "POLICY_NOT_APPROVED" && l["approvedSequence"] === seq);
      await write(1);
      await until(() => (log.lines.some((l) => l["msg"] === "join.policy_not_approved") ? true : undefined));
      expect(refusals(-1)).toHaveLength(1);
      expect(holder.current()).toBeUndefined();

      // The owners approve that policy: loaded.
      await owners.approve("attestation-policy", { policy: approvedJson(1) });
      const loaded = await until(() => holder.current());
      expect(loaded.policy.measurements.get(4)?.expected).toBe("01".repeat(32));
      expect(loaded.approvedIn).toBe(1);

      // Someone edits the join config directly: refused (once, loudly); the approved policy stays.
      await write(2);
      await until(() => (refusals(1).length > 0 ? true : undefined));
      await Bun.sleep(100); // several polls: still refused, still logged once
      expect(holder.current()?.policy.measurements.get(4)?.expected).toBe("01".repeat(32));
      expect(refusals(1)).toHaveLength(1);
      expect(refusals(1)[0]).toMatchObject({ level: "error", object: "asterism-join-config" });

      // The owners approve a new policy and revoke a node: both take effect without touching the join config.
      await owners.approve("attestation-policy", { policy: approvedJson(3) });
      await owners.approve("node-revocation", { nodes: ["worker-7"], reason: "disk stolen" });
      await until(() => (holder.current()?.revokedNodes.has("worker-7") ? true : undefined));
      expect(holder.current()?.policy.measurements.get(4)?.expected).toBe("03".repeat(32));
      expect(holder.current()?.approvedIn).toBe(2);
      // Tickets carry the owners' anchor and the newest verified head (docs/owner.md "Recovery").
      await until(() => (holder.current()?.owner?.head.sequence === 3 ? true : undefined));
      expect(holder.current()?.owner?.anchor).toBe(owners.anchor);
    } finally {
      stop.abort();
      s.close();
    }
  });
});
