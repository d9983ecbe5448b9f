/**
 * Fault campaign (LOAD_FULL=1: 120 runs; default: 8): real nodes on real swtpm join through the real
 * JoinService and KMS processes while one of them — the JoinService, the KMS, the node's swtpm or the
 * node itself — is killed (SIGKILL) at a random point of the join and brought back. Some runs rejoin
 * (a reboot); some are attacks: a node asks (join or rejoin) for another node's disk. Afterwards, for every run, the node either holds the right key
 * for its own disk or was refused with a code; no ticket ever carried a key for a disk the node does not
 * own; the state database is intact and records exactly the owners the tickets imply.
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { fromUtf8 } from "@asterism/bytes";
import {
  createKubeletCsr,
  localImage,
  localImageMeasurements,
  type NodeIdentity,
  STATE_OBJECTS,
} from "@asterism/lifecycle";
import { openSqliteState } from "@asterism/state";
import { type ClusterRig, startClusterRig } from "../support/cluster-rig.ts";
import { type JoinOutcome, joinWithRetry } from "../support/join-node.ts";
import { createSwtpmNode, type SwtpmNode } from "../support/swtpm-node.ts";

const RUNS = process.env["LOAD_FULL"] ? 120 : 8;
setDefaultTimeout(process.env["LOAD_FULL"] ? 1_800_000 : 180_000);

const image = localImage("fault-campaign");
let rig: ClusterRig;
const nodes: SwtpmNode[] = [];
const NAMES = ["worker-a", "worker-b", "worker-c", "worker-d"];

beforeAll(async () => {
  rig = await startClusterRig({ policy: { measurements: localImageMeasurements(image) } });
  for (const [i, name] of NAMES.entries())
    nodes.push(
      await createSwtpmNode(
        { name, role: "worker", ips: [`127.0.0.${i + 10}`] } satisfies NodeIdentity,
        image,
      ),
    );
});

afterAll(async () => {
  for (const n of nodes) await n.stop();
  await rig?.stop();
});

type Victim = "none" | "join-service" | "kms" | "swtpm" | "node";
const VICTIMS: Victim[] = ["none", "join-service", "kms", "swtpm", "node"];
/** Deterministic randomness (a run can be replayed from its seed). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

interface Received {
  readonly node: string;
  readonly disk: string;
  readonly key: Uint8Array;
  readonly cn?: string;
}

test("fault campaign: joins with a random process killed at a random point (RUNS runs)", async () => {
  const seed = Number(process.env["FAULT_SEED"] ?? Date.now() % 1_000_000);
  const rand = rng(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)] as T;
  const received: Received[] = [];
  const disksOf = new Map<string, string[]>(NAMES.map((n) => [n, []]));
  const summary: Record<string, number> = {};
  const outcomes: {
    run: number;
    node: string;
    op: string;
    victim: Victim;
    delay: number;
    outcome: string;
  }[] = [];
  const t0 = performance.now();

  for (let run = 0; run < RUNS; run++) {
    const node = nodes[run % nodes.length] as SwtpmNode;
    const name = node.identity.name;
    const mine = disksOf.get(name) as string[];
    // Ops: a fresh disk (most runs); this node's earlier disk again, by join or by rejoin (a reboot); or
    // another node's disk, by join or rejoin (an attack).
    const others = [...disksOf.entries()].filter(([n]) => n !== name).flatMap(([, d]) => d);
    const r = rand();
    const op =
      r < 0.5 || mine.length === 0
        ? "new"
        : r < 0.65
          ? "own-again"
          : r < 0.8
            ? "rejoin"
            : others.length === 0
              ? "own-again"
              : r < 0.9
                ? "steal"
                : "steal-rejoin";
    const disk =
      op === "new"
        ? `00000000-0000-4000-8000-${(run + 1).toString(16).padStart(12, "0")}`
        : op === "own-again" || op === "rejoin"
          ? pick(mine)
          : pick(others);
    const steal = op === "steal" || op === "steal-rejoin";
    const victim = pick(VICTIMS);
    const delay = Math.floor(rand() * 120);
    const { csr } = await createKubeletCsr(node.identity);
    const abort = new AbortController();

    const attempt = (signal?: AbortSignal) =>
      joinWithRetry({
        endpoint: () => rig.joinService?.url() ?? "",
        issuer: node.issuer,
        diskUuid: disk,
        csr,
        rejoin: op === "rejoin" || op === "steal-rejoin",
        attempts: 25,
        timeoutMs: 15_000,
        ...(signal ? { signal } : {}),
      });
    const first = attempt(victim === "node" ? abort.signal : undefined);
    await Bun.sleep(delay);
    switch (victim) {
      case "join-service":
        await rig.joinService?.kill();
        await Bun.sleep(50 + rand() * 200);
        await rig.joinService?.start();
        break;
      case "kms":
        await rig.kms.kill();
        await Bun.sleep(50 + rand() * 200);
        await rig.kms.start();
        break;
      case "swtpm":
        await node.killTpm();
        await Bun.sleep(20 + rand() * 100);
        await node.startTpm();
        break;
      case "node":
        abort.abort(); // the node crashes: its in-flight join is abandoned
        break;
    }
    let outcome: JoinOutcome = await first;
    // After a TPM crash or a node crash the node reboots (power cycle, re-measure) and joins again, as a
    // real node would; a refusal caused by the crash itself (PCRs reset mid-join) is followed by the same.
    if (victim === "swtpm" || victim === "node" || (!outcome.ok && outcome.code === "NOT_TRUSTED")) {
      if (victim === "swtpm" || victim === "node") await node.reboot();
      if (!outcome.ok) outcome = await attempt();
    }
    if (outcome.ok) {
      received.push({
        node: name,
        disk,
        key: outcome.ticket.diskKey,
        ...(outcome.ticket.kubeletCert ? { cn: outcome.ticket.kubeletCert } : {}),
      });
      if (!mine.includes(disk)) mine.push(disk);
    }
    const label = outcome.ok ? "joined" : `refused:${outcome.code}`;
    summary[`${victim}/${op}/${label}`] = (summary[`${victim}/${op}/${label}`] ?? 0) + 1;
    outcomes.push({ run, node: name, op, victim, delay, outcome: label });

    // Liveness: an honest join (own or new disk) ends joined, whatever was killed.
    if (!steal)
      expect({ run, seed, victim, op, outcome: label }).toEqual({ run, seed, victim, op, outcome: "joined" });
    // A steal is refused with a code (the disk has an owner), never answered with a key.
    if (steal)
      expect({ run, seed, outcome: label }).toEqual({
        run,
        seed,
        outcome: "refused:DISK_OWNED_BY_OTHER_NODE",
      });
  }
  const seconds = (performance.now() - t0) / 1000;

  // Safety: every key ever handed out is the right key for its disk, and went to the disk's owner.
  const state = openSqliteState(rig.stateDb);
  try {
    for (const got of received) {
      expect(got.key).toEqual(await rig.expectedDiskKey(got.disk));
      const owner = await state.get("config", `${STATE_OBJECTS.diskOwnerPrefix}${got.disk}`);
      expect({ disk: got.disk, owner: fromUtf8(owner?.data["nodeName"] as Uint8Array) }).toEqual({
        disk: got.disk,
        owner: got.node,
      });
    }
    // Nothing persisted lost: every disk a node holds a key for has its owner record; no disk has two.
    const owners = (await state.list("config")).filter((o) =>
      o.name.startsWith(STATE_OBJECTS.diskOwnerPrefix),
    );
    const byDisk = new Map(
      owners.map((o) => [
        o.name.slice(STATE_OBJECTS.diskOwnerPrefix.length),
        fromUtf8(o.data["nodeName"] as Uint8Array),
      ]),
    );
    for (const [n, disks] of disksOf) for (const d of disks) expect(byDisk.get(d)).toBe(n);
  } finally {
    state.close();
  }
  // Nothing corrupted: SQLite's own check over the state the killed JoinService was writing.
  const db = new Database(rig.stateDb, { readonly: true });
  expect((db.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check).toBe(
    "ok",
  );
  db.close();

  console.log(
    JSON.stringify({
      faults: "join",
      runs: RUNS,
      seed,
      seconds: Number(seconds.toFixed(1)),
      keysHandedOut: received.length,
      summary,
    }),
  );
});
