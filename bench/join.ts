/**
 * Joins under load: N nodes (default 1000) join at once through the real JoinService app over
 * client-attested aTLS with disk keys from the real KMS process (tests/load/join-load.test.ts, which also
 * checks every key, name and owner record), against the same-run floor of a join without attestation or
 * network: the Kubernetes part of a ticket (CSR check + kubelet certificate + token + CA pin,
 * `issueKubernetesJoinMaterial`) issued sequentially in-process.
 *
 *   bun bench/join.ts [--nodes=1000]
 */
import "reflect-metadata";
import { resolve } from "node:path";
import { generateClusterPki, issueKubernetesJoinMaterial } from "@asterism/kubeadm";
import { createKubeletCsr } from "@asterism/lifecycle";
import { arg, emit, figure, machineLine, printTable, sequential } from "./harness.ts";

const NODES = Number(arg("nodes", "1000", "BENCH_NODES"));
const root = resolve(import.meta.dir, "..");

const pki = await generateClusterPki();
const identity = { nodeName: "worker-1", ips: ["10.0.0.5"], role: "worker" as const };
const { csr } = await createKubeletCsr({ name: "worker-1", ips: ["10.0.0.5"] });
const floor = await sequential(
  "join material, sequential, in-process (no attestation, no network)",
  () => issueKubernetesJoinMaterial({ identity, request: { csr, controlPlane: false }, pki }),
  { seconds: 2, warmup: 10 },
);

const run = Bun.spawnSync(["bun", "test", "--timeout", "900000", "./tests/load/join-load.test.ts"], {
  cwd: root,
  env: { ...process.env, LOAD_NODES: String(NODES) },
  stdout: "pipe",
  stderr: "pipe",
});
const out = `${run.stdout.toString()}\n${run.stderr.toString()}`;
const line = out.split("\n").find((l) => l.startsWith('{"load":"join"'));
if (run.exitCode !== 0 || !line) {
  console.error(out.slice(-3000));
  throw new Error(`join load test failed (exit ${run.exitCode})`);
}
const r = JSON.parse(line) as {
  nodes: number;
  seconds: number;
  joinsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  retries: number;
};
printTable(
  `Joins under load (${machineLine()})`,
  ["case", "joins/s", "p50 ms", "p99 ms", "retries"],
  [
    [floor.name, floor.opsPerSec.toFixed(1), floor.p50Ms.toFixed(1), floor.p99Ms.toFixed(1), "—"],
    [
      `${r.nodes} nodes joining at once (aTLS + KMS + state)`,
      r.joinsPerSec.toFixed(1),
      String(r.p50Ms),
      String(r.p99Ms),
      String(r.retries),
    ],
  ],
);
console.log(
  `\nAll ${r.nodes} joined; every disk key, kubelet certificate name and owner record was checked (${r.seconds} s).`,
);
emit(
  "join",
  [
    figure(`${r.nodes} concurrent joins`, r.joinsPerSec, "joins/s", "higher", {
      name: "join material, sequential, in-process",
      value: floor.opsPerSec,
    }),
    figure(`${r.nodes} concurrent joins, p99 (all queued at once)`, r.p99Ms, "ms", "lower"),
    figure(
      `${r.nodes} concurrent joins, retries (BUSY/timeouts, bounded backoff)`,
      r.retries,
      "retries",
      "lower",
    ),
  ],
  { load: r },
);
